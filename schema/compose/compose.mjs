// Composes the supergraph from the committed subgraph SDLs with The Guild's federation
// composition (the library Hive's own tooling composes with, so the supergraph is what Hive
// Router expects). Run through scripts/schema.sh; writes the supergraph SDL to stdout, or the
// composition errors to stderr with exit status 1.
//
// The subgraph URLs are the laptop's (`ecommerce up`); the router overrides them from the
// environment for compose and Kubernetes, so one supergraph serves every deployment.
//
// With arguments, `node compose.mjs <name>=<url>=<sdl file> ...` composes those subgraphs
// instead (scripts/bench.sh composes its benchmark subgraphs so).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { composeServices } from '@theguild/federation-composition';
import { parse } from 'graphql';

const schemaDir = fileURLToPath(new URL('..', import.meta.url));
const ours = [
  ['users', 8001],
  ['products', 8002],
  ['cart', 8003],
  ['orders', 8004],
].map(([name, port]) => [name, `http://localhost:${port}/graphql`, `${schemaDir}/${name}.graphql`]);
const given = process.argv.slice(2).map((arg) => {
  const [name, ...rest] = arg.split('=');
  const file = rest.pop();
  const url = rest.join('=');
  if (!name || !url || !file) {
    console.error(`usage: node compose.mjs [<name>=<url>=<sdl file> ...], not '${arg}'`);
    process.exit(2);
  }
  return [name, url, file];
});
const result = composeServices(
  (given.length ? given : ours).map(([name, url, file]) => ({
    name,
    url,
    typeDefs: parse(readFileSync(file, 'utf8')),
  })),
);
if (result.errors?.length) {
  for (const error of result.errors) {
    console.error(`composition: ${error.message}`);
  }
  process.exit(1);
}
process.stdout.write(result.supergraphSdl.trimEnd() + '\n');
