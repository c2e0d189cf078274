// Apollo Gateway (@apollo/gateway on @apollo/server) for the gateway comparison benchmark:
// serves POST /graphql for the supergraph in the file named by SUPERGRAPH, on PORT (HOST,
// default 127.0.0.1), and prints one line "ready" to stdout once it accepts connections.
//
// The supergraph is passed as a static string (no polling, no Apollo uplink); landing page,
// introspection and usage/schema reporting are off, stack traces are never included in errors.
// FORK=n (default 1) serves from n cluster workers sharing the port; the primary then only
// forks and prints "ready" when every worker listens.
//
//   SUPERGRAPH=path/to/supergraph.graphql PORT=5101 NODE_ENV=production node apollo.mjs
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginUsageReportingDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginSchemaReportingDisabled } from '@apollo/server/plugin/disabled';

const port = Number(process.env.PORT);
const host = process.env.HOST || '127.0.0.1';
const forks = Number(process.env.FORK || 1);
if (!Number.isInteger(port) || port <= 0 || !process.env.SUPERGRAPH) {
  console.error('usage: SUPERGRAPH=<supergraph file> PORT=<port> [HOST=127.0.0.1] [FORK=1] node apollo.mjs');
  process.exit(2);
}
if (!Number.isInteger(forks) || forks < 1) {
  console.error(`FORK must be a positive integer, got ${process.env.FORK}`);
  process.exit(2);
}

if (forks > 1 && cluster.isPrimary) {
  let listening = 0;
  cluster.on('listening', () => {
    listening += 1;
    if (listening === forks) console.log('ready');
  });
  cluster.on('exit', (worker, code, signal) => {
    console.error(`apollo worker ${worker.process.pid} exited (${signal ?? code})`);
    process.exit(1);
  });
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      cluster.removeAllListeners('exit');
      for (const worker of Object.values(cluster.workers)) worker.kill(signal);
      process.exit(0);
    });
  }
  for (let i = 0; i < forks; i += 1) cluster.fork();
} else {
  const supergraphSdl = readFileSync(process.env.SUPERGRAPH, 'utf8');
  const server = new ApolloServer({
    gateway: new ApolloGateway({ supergraphSdl }),
    introspection: false,
    includeStacktraceInErrorResponses: false,
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginSchemaReportingDisabled(),
    ],
  });
  await startStandaloneServer(server, { listen: { port, host } });
  if (cluster.isPrimary) console.log('ready');
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      server.stop().finally(() => process.exit(0));
    });
  }
}
