import { createFileBackend } from '../../lib/log';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir';
import { runLogContract } from './contract';

runLogContract({
  name: 'file',
  multiWriter: false,
  secondWriterRefusal: /LOCK is held by process/,
  place: async () => {
    const dataDir = await makeTempDir('file-backend-');
    return { backend: async () => createFileBackend({ dataDir, pollMs: 20 }), dispose: () => removeTempDir(dataDir) };
  },
});
