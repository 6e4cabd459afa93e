// Echo server on the npm package `ws` with the library's defaults (maxPayload 100 MiB), and
// permessage-deflate turned on (ws's server default is off), for wsprobe/compare.sh.
//
//   node echo.js [SECONDS]    serve on 127.0.0.1 (any port), print `listening on ws://ADDR`
'use strict';
const { WebSocketServer } = require('ws');

const lifetime = Number(process.argv[2] || 600) * 1000;
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true });
wss.on('listening', () => process.stdout.write(`listening on ws://127.0.0.1:${wss.address().port}\n`));
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
setTimeout(() => process.exit(0), lifetime).unref();
setTimeout(() => {}, lifetime);
