// The floor a node's service stands on: Node with tsx, serving one HTTP port on loopback and
// nothing else. Five of these are the reference for `cps up`'s start and for an idle node.
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
createServer((_req, res) => res.end('ok')).listen(port, '127.0.0.1', () => console.log(`ready on ${port}`));
process.on('SIGTERM', () => process.exit(0));
