package store

// authorizeBatch is KalamDB's classification-time role check: every
// statement of the request is checked before any runs, so a batch with
// one statement the caller may never run changes nothing. Like KalamDB's
// classifier it covers the statements whose permission depends on the role
// alone (namespace DDL, CREATE/DROP USER); table-level access is checked
// when each statement runs. The error has no "Statement N failed" prefix.
func authorizeBatch(sess Session, plans []*plan) (int, *failure) {
	if isAdmin(sess.Role) {
		return 0, nil
	}
	for i, p := range plans {
		what := ""
		switch p.kind {
		case pCreateNamespace, pDropNamespace:
			what = "namespace operations"
		case pCreateUser, pDropUser:
			what = "user management"
		default:
			continue
		}
		f := denied("Admin privileges (DBA or System role) required for " + what)
		f.prefix = false
		return i, f
	}
	return 0, nil
}
