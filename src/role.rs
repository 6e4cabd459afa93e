//! Which end of the connection we are, and what that means for masking (RFC 6455 §5.1, §5.3).

/// Which end of a WebSocket connection this endpoint is.
///
/// RFC 6455 §5.1: a client MUST mask every frame it sends and a server MUST NOT mask any frame
/// it sends; each side MUST fail the connection when the other breaks that rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The endpoint that sent the opening handshake request. Masks what it sends.
    Client,
    /// The endpoint that answered the opening handshake. Never masks what it sends.
    Server,
}

impl Role {
    /// Whether frames *sent* by this role carry a masking key.
    #[inline]
    pub const fn masks_outgoing(self) -> bool {
        matches!(self, Role::Client)
    }

    /// Whether frames *received* by this role must carry a masking key.
    #[inline]
    pub const fn expects_masked_incoming(self) -> bool {
        matches!(self, Role::Server)
    }

    /// The other end of the connection.
    #[inline]
    pub const fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_rules() {
        assert!(Role::Client.masks_outgoing());
        assert!(!Role::Server.masks_outgoing());
        assert!(Role::Server.expects_masked_incoming());
        assert!(!Role::Client.expects_masked_incoming());
        assert_eq!(Role::Client.peer(), Role::Server);
        assert_eq!(Role::Server.peer(), Role::Client);
    }
}
