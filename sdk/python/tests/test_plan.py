"""Plan parsing: a valid plan's fields, and ValueError naming a wrong field."""

import copy
import unittest

import orgquake
from orgquake.conformance import make_plan


def valid_plan():
    plan = make_plan(1000, [["u0001", "u0002"], ["u0003"]], gated=True, delays_ms=[0, 25])
    plan["failpoints"] = "protocol.echo=1*return"
    plan["clients"][0]["ops"][1]["kind"] = "lookup"
    return plan


def with_change(path, value, delete=False):
    plan = copy.deepcopy(valid_plan())
    target = plan
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return plan


class PlanTest(unittest.TestCase):
    def test_a_valid_plan_parses_into_its_fields(self):
        plan = orgquake.Plan.from_json(valid_plan())
        self.assertEqual((plan.worker, plan.phase, plan.seed, plan.trial_start_ns),
                         (0, "run", 1234, 1000))
        self.assertEqual(plan.endpoints.redis_url, "redis://127.0.0.1:9/0")
        self.assertEqual(plan.endpoints.http_request_timeout_ms, 1000)
        self.assertEqual(plan.lock.key_prefix, "orgquake:conformance:lock:user:")
        self.assertEqual(plan.lookup, orgquake.LookupOptions("joined", True))
        self.assertEqual(plan.failpoints, "protocol.echo=1*return")
        self.assertEqual(plan.gated_failpoints, ["protocol.echo"])
        self.assertEqual(plan.clients[1], orgquake.ClientPlan(25, [orgquake.Operation(2, "echo", "u0003")]))
        self.assertEqual(plan.clients[0].ops[1], orgquake.Operation(1, "lookup", "u0002"))

    def test_a_clients_redis_connection_name_is_the_one_the_harness_reads(self):
        # The C++ side parses exactly this (worker::parse_connection_name).
        self.assertEqual(orgquake.connection_name(3, 12), "orgquake:w3:c12")
        self.assertEqual(orgquake.redis_client_name(3, 12), "orgquake:w3:c12")
        plan = orgquake.Plan.from_json(valid_plan())
        self.assertEqual(plan.connection_name(1), "orgquake:w0:c1")
        self.assertEqual(plan.redis_client_name(1), "orgquake:w0:c1")

    def test_fields_the_protocol_does_not_list_are_ignored(self):
        plan = valid_plan()
        plan["future_field"] = {"anything": 1}
        plan["lock"]["another"] = "x"
        self.assertEqual(orgquake.Plan.from_json(plan).worker, 0)

    def test_a_missing_or_mistyped_field_is_named(self):
        cases = [
            (("worker",), None, True, "plan.worker: missing"),
            (("seed",), "7", False, "plan.seed: expected an integer, got str"),
            (("seed",), -1, False, "plan.seed: expected a number >= 0"),
            (("phase",), 3, False, "plan.phase: expected a string"),
            (("endpoints",), [], False, "plan.endpoints: expected an object"),
            (("endpoints", "redis_url"), None, True, "plan.endpoints.redis_url: missing"),
            (("endpoints", "http_request_timeout_ms"), True, False,
             "plan.endpoints.http_request_timeout_ms: expected an integer, got bool"),
            (("lock", "ttl_ms"), 1.5, False, "plan.lock.ttl_ms: expected an integer, got float"),
            (("lookup", "fast_path"), "yes", False, "plan.lookup.fast_path: expected a boolean"),
            (("failpoints",), None, False, "plan.failpoints: expected a string, got NoneType"),
            (("gated_failpoints",), ["a.b", 3], False, "plan.gated_failpoints[1]: expected a string"),
            (("clients",), {}, False, "plan.clients: expected a list"),
            (("clients", 1, "start_delay_ms"), None, True,
             "plan.clients[1].start_delay_ms: missing"),
            (("clients", 0, "ops", 1, "user"), 5, False,
             "plan.clients[0].ops[1].user: expected a string, got int"),
            (("clients", 0, "ops", 0), "op", False, "plan.clients[0].ops[0]: expected an object"),
        ]
        for path, value, delete, expected in cases:
            with self.subTest(path=path):
                with self.assertRaises(ValueError) as raised:
                    orgquake.Plan.from_json(with_change(path, value, delete))
                self.assertIn(expected, str(raised.exception))

    def test_a_plan_that_is_not_an_object_is_rejected(self):
        with self.assertRaisesRegex(ValueError, "plan: expected an object"):
            orgquake.Plan.from_json([1, 2])


if __name__ == "__main__":
    unittest.main()
