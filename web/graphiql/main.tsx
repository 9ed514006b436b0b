import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';
import EditorWorker from 'monaco-editor/esm/vs/editor/editor.worker.js?worker';
import JsonWorker from 'monaco-editor/esm/vs/language/json/json.worker.js?worker';
import GraphQLWorker from 'monaco-graphql/esm/graphql.worker.js?worker';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';

// Monaco's language workers, bundled beside the page: nothing is fetched from a CDN.
Object.assign(globalThis, {
  MonacoEnvironment: {
    getWorker: (_id: string, label: string) =>
      label === 'graphql' ? new GraphQLWorker() : label === 'json' ? new JsonWorker() : new EditorWorker(),
  },
});

// The page is served by the gateway it queries, whose GraphQL endpoint is its root.
const fetcher = createGraphiQLFetcher({ url: new URL('/', window.location.href).href });

const defaultQuery = `# Offline GraphiQL. Apollo Sandbox (online) is at /.
# \`me\` needs a token: npm run token -- --sub <id>
# In Headers: {"Authorization": "Bearer <token>"}
query Welcome {
  me {
    name
    email
    welcomeEmail { status sentAt }
  }
}
`;

createRoot(document.getElementById('graphiql')!).render(
  <StrictMode>
    <GraphiQL fetcher={fetcher} defaultQuery={defaultQuery} defaultEditorToolsVisibility="headers" />
  </StrictMode>,
);
