package sqltext

// NumKinds is the number of kinds, for tests that loop over all of them.
const NumKinds = numKinds
