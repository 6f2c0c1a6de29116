package auth

// CheckEmail exposes checkEmail to the fuzz tests in package auth_test.
var CheckEmail = checkEmail

// PruneCodes exposes pruneCodes to the tests in package auth_test.
var PruneCodes = pruneCodes

// IPAllowance exposes ipAllowance to the tests in package auth_test.
const IPAllowance = ipAllowance
