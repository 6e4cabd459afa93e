//! The result of an incremental parser: incomplete input is not an error.

/// Whether a parser had enough input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status<T> {
    /// More bytes are needed; nothing was consumed that the caller must drop.
    Partial,
    /// Parsing finished with this value (usually including how many bytes it consumed).
    Complete(T),
}

impl<T> Status<T> {
    /// Whether this is [`Status::Complete`].
    #[inline]
    pub fn is_complete(&self) -> bool {
        matches!(self, Status::Complete(_))
    }

    /// Whether this is [`Status::Partial`].
    #[inline]
    pub fn is_partial(&self) -> bool {
        matches!(self, Status::Partial)
    }

    /// The completed value, if any.
    #[inline]
    pub fn complete(self) -> Option<T> {
        match self {
            Status::Complete(value) => Some(value),
            Status::Partial => None,
        }
    }

    /// Map the completed value.
    #[inline]
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Status<U> {
        match self {
            Status::Complete(value) => Status::Complete(f(value)),
            Status::Partial => Status::Partial,
        }
    }
}
