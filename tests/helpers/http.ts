/** A response's JSON body, untyped: for assertions on shapes the test spells out. */
export const bodyOf = async (response: Response): Promise<any> => response.json();
