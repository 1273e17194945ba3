// Entry of the bench's client threads: workers do not inherit `--import tsx`, so register it here.
import { register } from 'tsx/esm/api';

register();
await import('./run.ts');
