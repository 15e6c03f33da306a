// The token lives in this tab's session storage only: never in a URL, a cookie or a log, and it is
// gone when the tab closes.
const KEY = 'mdm.console.token';

export const readToken = (): string | null => sessionStorage.getItem(KEY);
export const storeToken = (token: string) => sessionStorage.setItem(KEY, token);
export const forgetToken = () => sessionStorage.removeItem(KEY);
