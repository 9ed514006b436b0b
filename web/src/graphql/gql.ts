/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  mutation SignUp($input: AddUserInput!) {\n    addUser(input: $input) {\n      user { id name }\n      errors { code field message }\n    }\n  }\n": typeof types.SignUpDocument,
    "\n  query UserList($first: Int!, $after: String) {\n    users(first: $first, after: $after) {\n      totalCount\n      edges {\n        node { id name email createdAt welcomeEmail { id status } }\n      }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n": typeof types.UserListDocument,
    "\n  query WelcomeEmail($id: ID!) {\n    user(id: $id) {\n      id\n      welcomeEmail { id status attempts sentAt lastError }\n    }\n  }\n": typeof types.WelcomeEmailDocument,
};
const documents: Documents = {
    "\n  mutation SignUp($input: AddUserInput!) {\n    addUser(input: $input) {\n      user { id name }\n      errors { code field message }\n    }\n  }\n": types.SignUpDocument,
    "\n  query UserList($first: Int!, $after: String) {\n    users(first: $first, after: $after) {\n      totalCount\n      edges {\n        node { id name email createdAt welcomeEmail { id status } }\n      }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n": types.UserListDocument,
    "\n  query WelcomeEmail($id: ID!) {\n    user(id: $id) {\n      id\n      welcomeEmail { id status attempts sentAt lastError }\n    }\n  }\n": types.WelcomeEmailDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SignUp($input: AddUserInput!) {\n    addUser(input: $input) {\n      user { id name }\n      errors { code field message }\n    }\n  }\n"): (typeof documents)["\n  mutation SignUp($input: AddUserInput!) {\n    addUser(input: $input) {\n      user { id name }\n      errors { code field message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query UserList($first: Int!, $after: String) {\n    users(first: $first, after: $after) {\n      totalCount\n      edges {\n        node { id name email createdAt welcomeEmail { id status } }\n      }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n"): (typeof documents)["\n  query UserList($first: Int!, $after: String) {\n    users(first: $first, after: $after) {\n      totalCount\n      edges {\n        node { id name email createdAt welcomeEmail { id status } }\n      }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query WelcomeEmail($id: ID!) {\n    user(id: $id) {\n      id\n      welcomeEmail { id status attempts sentAt lastError }\n    }\n  }\n"): (typeof documents)["\n  query WelcomeEmail($id: ID!) {\n    user(id: $id) {\n      id\n      welcomeEmail { id status attempts sentAt lastError }\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;