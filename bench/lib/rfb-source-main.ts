// The synthetic RFB source as a process of its own, so its work is not the client's or the proxy's.
import { startRfbSource } from './rfb-source.ts';

const src = await startRfbSource();
console.log(JSON.stringify({ streamPort: src.streamPort, echoPort: src.echoPort }));
process.on('SIGTERM', () => void src.close().then(() => process.exit(0)));
