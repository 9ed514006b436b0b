import { Kind, parse, print, valueFromASTUntyped, visit, type ConstDirectiveNode, type DocumentNode } from 'graphql';
import type { Viewer } from '../../../lib/viewer';

/**
 * What one field or type demands of the caller: a verified token, and (when
 * `scopes` is set) all the scopes of at least one inner list.
 */
export interface Requirement {
  readonly authenticated: boolean;
  /** OR of ANDs, as `@requiresScopes(scopes: [[…]])` writes it; undefined: no scope needed. */
  readonly scopes: readonly (readonly string[])[] | undefined;
}

/** `Type` and `Type.field` coordinates to what they require; what is absent requires nothing. */
export type Policy = ReadonlyMap<string, Requirement>;

export const isSatisfied = (requirement: Requirement, viewer: Viewer | undefined): boolean => {
  if (!viewer) return !requirement.authenticated && requirement.scopes === undefined;
  return requirement.scopes === undefined || requirement.scopes.some((all) => all.every((scope) => viewer.scopes.has(scope)));
};

/** Both requirements at once: scope alternatives multiply out, as composition merges them. */
export const bothOf = (a: Requirement | undefined, b: Requirement | undefined): Requirement | undefined => {
  if (!a || !b) return a ?? b;
  const scopes = a.scopes && b.scopes ? a.scopes.flatMap((x) => b.scopes!.map((y) => [...new Set([...x, ...y])])) : (a.scopes ?? b.scopes);
  return { authenticated: a.authenticated || b.authenticated, scopes };
};

const SPECS = { authenticated: 'https://specs.apollo.dev/authenticated/', requiresScopes: 'https://specs.apollo.dev/requiresScopes/' } as const;

const argument = (directive: ConstDirectiveNode, name: string): unknown => {
  const node = directive.arguments?.find((arg) => arg.name.value === name);
  return node ? valueFromASTUntyped(node.value) : undefined;
};

/** The names the supergraph's `for: SECURITY` links give the two directives (`as:` renames them). */
const securityNames = (document: DocumentNode) => {
  const names: { authenticated?: string; requiresScopes?: string } = {};
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.SCHEMA_DEFINITION && definition.kind !== Kind.SCHEMA_EXTENSION) continue;
    for (const directive of definition.directives ?? []) {
      if (directive.name.value !== 'link') continue;
      const url = argument(directive, 'url');
      const as = argument(directive, 'as');
      for (const [feature, prefix] of Object.entries(SPECS) as [keyof typeof SPECS, string][]) {
        if (typeof url === 'string' && url.startsWith(prefix)) names[feature] = typeof as === 'string' ? as : feature;
      }
    }
  }
  return names;
};

export interface SecuredSupergraph {
  /** The supergraph without the security features: what `@apollo/gateway`, which refuses them, can load. */
  readonly executable: string;
  readonly policy: Policy;
}

/**
 * Splits a composed supergraph into the policy its `@authenticated` and
 * `@requiresScopes` applications declare and the same supergraph without them.
 */
export const secureSupergraph = (supergraphSdl: string): SecuredSupergraph => {
  const document = parse(supergraphSdl);
  const names = securityNames(document);
  const directives = new Set(Object.values(names));
  const scalars = new Set(Object.values(names).map((name) => `${name}__Scope`));
  const policy = new Map<string, Requirement>();
  const requirementOf = (applied: readonly ConstDirectiveNode[] | undefined): Requirement | undefined => {
    let found: Requirement | undefined;
    for (const directive of applied ?? []) {
      if (directive.name.value === names.authenticated) found = bothOf(found, { authenticated: true, scopes: undefined });
      if (directive.name.value === names.requiresScopes) {
        const scopes = argument(directive, 'scopes') as string[][];
        found = bothOf(found, { authenticated: true, scopes });
      }
    }
    return found;
  };
  for (const definition of document.definitions) {
    if (!('name' in definition) || !definition.name || !('directives' in definition)) continue;
    const typeName = definition.name.value;
    const onType = requirementOf(definition.directives as readonly ConstDirectiveNode[] | undefined);
    if (onType) policy.set(typeName, onType);
    if (!('fields' in definition)) continue;
    for (const field of definition.fields ?? []) {
      const onField = requirementOf(field.directives);
      if (onField) policy.set(`${typeName}.${field.name.value}`, onField);
    }
  }
  const executable = visit(document, {
    Directive: (node) => (directives.has(node.name.value) ? null : undefined),
    DirectiveDefinition: (node) => (directives.has(node.name.value) ? null : undefined),
    ScalarTypeDefinition: (node) => (scalars.has(node.name.value) ? null : undefined),
    SchemaDefinition: (node) => ({
      ...node,
      directives: node.directives?.filter((directive) => {
        const url = argument(directive, 'url');
        return !(directive.name.value === 'link' && typeof url === 'string' && Object.values(SPECS).some((prefix) => url.startsWith(prefix)));
      }),
    }),
  });
  return { executable: print(executable), policy };
};
