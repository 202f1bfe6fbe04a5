// A standalone `serve --api` process for the restart test: node server.mjs JOBS_DIR PORT.
// Prints its URL on stdout once listening (and after resuming unfinished jobs).
import { serveTrainingApi } from '../../llm/backends/http/server.ts';

const [jobsDir, port] = process.argv.slice(2);
const { url } = await serveTrainingApi({ jobsDir, port: Number(port), device: 'cpu', log: (s) => console.error(s) });
console.log(url);
