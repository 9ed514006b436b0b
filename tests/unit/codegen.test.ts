import { codegenConfig } from '../../codegen';
import { checkGenerated } from '../helpers/codegen';

test('generated resolver types are up to date', async () => {
  const { files, stale } = await checkGenerated(codegenConfig);
  expect(files).toEqual(Object.keys(codegenConfig.generates).sort());
  if (stale.length > 0) {
    throw new Error(`Stale generated files: ${stale.join(', ')}. Run \`npm run codegen\` and commit the result.`);
  }
});
