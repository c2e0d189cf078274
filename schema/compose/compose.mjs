// Composes the supergraph from the committed subgraph SDLs with The Guild's federation
// composition (the library Hive's own tooling composes with, so the supergraph is what Hive
// Router expects). Run through scripts/schema.sh; writes the supergraph SDL to stdout, or the
// composition errors to stderr with exit status 1.
//
// The subgraph URLs are the laptop's (`ecommerce up`); the router overrides them from the
// environment for compose and Kubernetes, so one supergraph serves every deployment.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { composeServices } from '@theguild/federation-composition';
import { parse } from 'graphql';

const subgraphs = [
  ['users', 8001],
  ['products', 8002],
  ['cart', 8003],
  ['orders', 8004],
];
const schemaDir = fileURLToPath(new URL('..', import.meta.url));
const result = composeServices(
  subgraphs.map(([name, port]) => ({
    name,
    url: `http://localhost:${port}/graphql`,
    typeDefs: parse(readFileSync(`${schemaDir}/${name}.graphql`, 'utf8')),
  })),
);
if (result.errors?.length) {
  for (const error of result.errors) {
    console.error(`composition: ${error.message}`);
  }
  process.exit(1);
}
process.stdout.write(result.supergraphSdl.trimEnd() + '\n');
