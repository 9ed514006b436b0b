import { webCodegenConfig } from '../../web/codegen';
import { checkGenerated } from '../helpers/codegen';

test('generated web operation types are up to date with the supergraph and the page', async () => {
  const { files, stale } = await checkGenerated(webCodegenConfig);
  expect(files).toEqual(['web/src/graphql/gql.ts', 'web/src/graphql/graphql.ts', 'web/src/graphql/index.ts']);
  if (stale.length > 0) {
    throw new Error(`Stale generated files: ${stale.join(', ')}. Run \`npm run codegen:web\` and commit the result.`);
  }
});
