import { defineConfig, mergeConfigs, port, subgraphConfig, type ConfigOf } from '../../../lib/config';

export const usersConfig = mergeConfigs(subgraphConfig, defineConfig({ keys: () => ({ USERS_PORT: port(4001) }) }));

export type UsersConfig = ConfigOf<typeof usersConfig>;
