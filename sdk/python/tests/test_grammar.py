"""The ORGQUAKE_FAILPOINTS grammar, checked against the C++ parser's own cases."""

import unittest

from orgquake.failpoint_grammar import Term, parse_configuration, parse_spec

# Written forms and their canonical text (tests/failpoints/test_grammar.cpp's table).
CANONICAL_FORMS = [
    ("off", "off"),
    ("return", "return"),
    ("return()", "return"),
    ("return(stripe is down)", "return(stripe is down)"),
    ("return(a;b->c (d) 50%)", "return(a;b->c (d) 50%)"),
    ("sleep(100)", "sleep(100)"),
    (" 50 % 2 * sleep( 100 ) -> off ", "50%2*sleep(100)->off"),
    ("0.5%crash", "0.5%crash"),
    ("100%yield", "yield"),
    ("0%pause", "0%pause"),
    ("0*crash", "0*crash"),
    ("2*sleep(100)->off", "2*sleep(100)->off"),
    ("1*return(first)->1*pause->crash", "1*return(first)->1*pause->crash"),
]

# Malformed configurations and a fragment of the one-line error each must give.
MALFORMED = [
    ("migrate.after_org_insert", "\"migrate.after_org_insert\": missing '='"),
    ("=crash", "missing failpoint name before '='"),
    ("migrate.after_org_insert=", "failpoint migrate.after_org_insert: no action given"),
    ("migrate.after_org_insert=crsh",
     'failpoint migrate.after_org_insert: term "crsh": unknown action "crsh"'),
    ("migrate.after_org_insert=abc%crash", 'term "abc%crash": probability "abc" is not a number'),
    ("migrate.after_org_insert=150%crash",
     'term "150%crash": probability 150% is outside 0% to 100%'),
    ("migrate.after_org_insert=-5%crash", "probability -5% is outside 0% to 100%"),
    ("migrate.after_org_insert=5*50%crash",
     'probability "5*50" is not a number (the form is p%n*action'),
    ("migrate.after_org_insert=x*crash", 'term "x*crash": count "x" is not a whole number'),
    ("migrate.after_org_insert=-1*crash", 'count "-1" is not a whole number'),
    ("migrate.after_org_insert=50%", 'term "50%": no action'),
    ("migrate.after_org_insert=sleep", "sleep needs a duration in milliseconds"),
    ("migrate.after_org_insert=sleep(soon)",
     'sleep duration "soon" is not a whole number of milliseconds'),
    ("migrate.after_org_insert=sleep(100000000000)",
     "sleep duration 100000000000 ms is longer than a day"),
    ("migrate.after_org_insert=crash(now)", 'term "crash(now)": crash takes no argument'),
    ("migrate.after_org_insert=yield()", "yield takes no argument"),
    ("migrate.after_org_insert=return(oops", 'term "return(oops": missing \')\' after the argument'),
    ("migrate.after_org_insert=return(a))", "unbalanced parentheses in the argument"),
    ("migrate.after_org_insert=sleep(10)x", "text after the argument's ')'"),
    ("migrate.after_org_insert=off)", "')' without '('"),
    ("migrate.after_org_insert=off->",
     'failpoint migrate.after_org_insert: "off->" has an empty term'),
    ("migrate.after_org_insert=->off", '"->off" has an empty term'),
    ("migrate.after_org_insert=crash;migrate.after_org_insert=off",
     "failpoint migrate.after_org_insert: configured twice"),
    ("migrate.after_org_insert=nan%crash", 'probability "nan" is not a number'),
    ("migrate.after_org_insert=+5%crash", 'probability "+5" is not a number'),
]


class GrammarTest(unittest.TestCase):
    def test_valid_specs_parse_to_their_canonical_form_and_back(self):
        for written, canonical in CANONICAL_FORMS:
            with self.subTest(written=written):
                spec = parse_spec("migrate.after_org_insert", written)
                self.assertEqual(str(spec), canonical)
                self.assertEqual(parse_spec("migrate.after_org_insert", canonical), spec)

    def test_terms_carry_probability_count_action_and_argument(self):
        spec = parse_spec("lookup.after_lock_acquire", "12.5%3*sleep(250)->return(gone)")
        self.assertEqual(spec.terms, (
            Term(action="sleep", percent=12.5, max_triggers=3, duration_ms=250),
            Term(action="return", text="gone"),
        ))
        self.assertEqual(spec.terms[0].argument, "250")
        self.assertEqual(spec.terms[1].argument, "gone")

    def test_a_return_argument_keeps_separators_and_balanced_parentheses(self):
        settings = parse_configuration("a.b=return(x;y->z (w));c.d=off")
        self.assertEqual([name for name, _ in settings], ["a.b", "c.d"])
        self.assertEqual(settings[0][1].terms[0].text, "x;y->z (w)")

    def test_configuration_skips_empty_items_and_keeps_order(self):
        settings = parse_configuration(
            " migrate.after_org_insert=50%crash ; ;lookup.after_lock_acquire=2*sleep(100)->off;")
        self.assertEqual([(name, str(spec)) for name, spec in settings], [
            ("migrate.after_org_insert", "50%crash"),
            ("lookup.after_lock_acquire", "2*sleep(100)->off"),
        ])
        self.assertEqual(parse_configuration(""), [])

    def test_malformed_configuration_is_one_line_saying_what_is_wrong(self):
        for text, expected in MALFORMED:
            with self.subTest(text=text):
                with self.assertRaises(ValueError) as raised:
                    parse_configuration(text)
                message = str(raised.exception)
                self.assertIn(expected, message)
                self.assertNotIn("\n", message)

    def test_the_name_check_runs_before_the_spec_is_parsed(self):
        def reject(name):
            raise ValueError(f"unknown failpoint {name}")
        with self.assertRaisesRegex(ValueError, "unknown failpoint a.b"):
            parse_configuration("a.b=crsh", check_name=reject)


if __name__ == "__main__":
    unittest.main()
