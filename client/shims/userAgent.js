// Injected into the bundle in place of `navigator.userAgent` (client/build.mjs): openpgp's browser
// build reads it unguarded, to spot old Safari, before each WebCrypto AES-GCM operation (key backups),
// and throws where there is no navigator (Node 20) or no userAgent (React Native). An empty string
// there means "not that Safari", which is true.
// (Read through another name: the define replaces every `navigator.userAgent`, this one's too.)
const platformNavigator = typeof navigator !== 'undefined' ? navigator : undefined;
export const signalboxUserAgent = (platformNavigator && platformNavigator.userAgent) || '';
