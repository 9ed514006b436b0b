/** For the `default` of a switch that covers every case: the type checker proves `value` is `never`. */
export const unreachable = (value: never): never => {
  throw new Error(`Unreachable case: ${JSON.stringify(value)}`);
};
