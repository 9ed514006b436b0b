import { createMemoryBackend } from '../../lib/log';
import { runLogContract } from './contract';

runLogContract({
  name: 'memory',
  multiWriter: true,
  place: async () => {
    // One backend is one memory: every "process" opening it sees the same streams.
    const backend = createMemoryBackend();
    return { backend: async () => backend, dispose: () => backend.close() };
  },
});
