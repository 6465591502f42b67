#!/usr/bin/env bats
# The single-writer lease (lib/lease.h) against a server: one writer per
# namespace, across processes and machines, surviving kill -9.

setup_file() {
	load helpers
	mlite_start TGT
}

teardown_file() {
	load helpers
	mlite_stop TGT
}

setup() {
	load helpers
	test_db
}

# lease_case CASE...: the named cases of test/unit/test_lease.c.
lease_case() {
	run env CSM_TEST_URI="$TGT_URI" CSM_TEST_DB="$DB" "$CSM_BUILD/test/test_lease" "$@"
	if ((status != 0)); then
		echo "$output" >&2
		return 1
	fi
}

@test "a live lease refuses a second writer with 73 naming the holder; released, the next writer takes it" {
	lease_case take_and_refuse
}

@test "a holder on another machine that stops renewing loses the lease at expiry and its next publish is refused" {
	lease_case expired_taken_and_stale_refused
}

@test "the lease of a dead process of this machine is taken over at once, a live one's never" {
	lease_case dead_holder_here_taken_at_once
}

@test "the lease of a killed process of this machine that nobody reaped (a zombie) is taken over at once" {
	lease_case zombie_holder_taken_at_once
}

@test "a lease taken with lease_open stays its holder's while the holder writes nothing for three ttls" {
	lease_case kept_renewed_while_idle
}
