// `npm run deploy:render -- [-f values.yaml]…`: the platform's Kubernetes manifests as one YAML stream.
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { loadValues, renderManifests } from './manifests';

const { values } = parseArgs({ options: { values: { type: 'string', short: 'f', multiple: true } } });
const manifests = renderManifests(loadValues(values.values ?? []));
process.stdout.write(manifests.map((m) => stringify(m.toJSON())).join('---\n'));
