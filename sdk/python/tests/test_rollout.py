"""The rollout flag's rule (docs/worker-protocol.md, "The `serve` operation and the rollout
flag"): the bucket, the allow list, the percentage, and reading the flag's row."""

import unittest

import orgquake
from orgquake.rollout import ROLLOUT_FLAG_SQL, RolloutFlag, read_rollout_flag, rollout_bucket

ZERO = "00000000-0000-0000-0000-000000000000"
SOME = "f74e3ec0-5a2d-4722-ad83-d7e257467e69"


class BucketTest(unittest.TestCase):
    def test_the_protocols_values(self):
        # The same values as the protocol document and the C++ rollout_bucket.
        self.assertEqual(rollout_bucket(""), 33)
        self.assertEqual(rollout_bucket(ZERO), 77)
        self.assertEqual(rollout_bucket(SOME), 66)

    def test_is_fnv1a_of_the_prefixed_utf8_bytes(self):
        def fnv(data: bytes) -> int:
            h = 0xCBF29CE484222325
            for byte in data:
                h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
            return h

        for user in ("", "ada", ZERO, SOME, "ü-ß-用户"):
            with self.subTest(user=user):
                self.assertEqual(rollout_bucket(user), fnv(b"org_path:" + user.encode()) % 100)
                self.assertIn(rollout_bucket(user), range(100))

    def test_exported_by_the_package(self):
        self.assertIs(orgquake.rollout_bucket, rollout_bucket)
        self.assertIs(orgquake.RolloutFlag, RolloutFlag)
        self.assertIs(orgquake.read_rollout_flag, read_rollout_flag)


class CoversTest(unittest.TestCase):
    def test_the_schemas_state_covers_nobody(self):
        flag = RolloutFlag()
        self.assertEqual((flag.percentage, flag.allow_list, flag.version), (0, (), 0))
        for user in ("", ZERO, SOME):
            self.assertFalse(flag.covers(user))

    def test_percentage_covers_buckets_below_it(self):
        # SOME is in bucket 66: 66 % leaves it out, 67 % takes it in.
        self.assertFalse(RolloutFlag(percentage=66).covers(SOME))
        self.assertTrue(RolloutFlag(percentage=67).covers(SOME))
        self.assertFalse(RolloutFlag(percentage=77).covers(ZERO))
        self.assertTrue(RolloutFlag(percentage=78).covers(ZERO))
        self.assertTrue(RolloutFlag(percentage=34).covers(""))
        self.assertFalse(RolloutFlag(percentage=33).covers(""))

    def test_all_and_nothing(self):
        users = [f"user-{i}" for i in range(500)]
        self.assertTrue(all(RolloutFlag(percentage=100).covers(u) for u in users))
        self.assertFalse(any(RolloutFlag(percentage=0).covers(u) for u in users))

    def test_widening_only_adds_users(self):
        users = [f"user-{i}" for i in range(500)]
        covered = set()
        for percentage in range(101):
            now = {u for u in users if RolloutFlag(percentage=percentage).covers(u)}
            self.assertTrue(covered <= now, percentage)
            covered = now
        self.assertEqual(covered, set(users))
        # Roughly half at 50 %.
        half = sum(RolloutFlag(percentage=50).covers(u) for u in users)
        self.assertTrue(150 < half < 350, half)

    def test_allow_list_covers_whatever_the_bucket(self):
        flag = RolloutFlag(percentage=0, allow_list=[SOME])
        self.assertTrue(flag.covers(SOME))
        self.assertFalse(flag.covers(ZERO))
        self.assertEqual(flag.allow_list, (SOME,))  # kept as a tuple
        # Exact ids only: no prefix, no case folding.
        self.assertFalse(flag.covers(SOME.upper()))
        self.assertFalse(flag.covers(SOME[:-1]))
        # With a percentage, the allow list adds users to it.
        flag = RolloutFlag(percentage=67, allow_list=(ZERO,))
        self.assertTrue(flag.covers(ZERO))
        self.assertTrue(flag.covers(SOME))
        self.assertTrue(flag.covers(""))  # bucket 33, by the percentage

    def test_percentage_and_allow_list_together(self):
        flag = RolloutFlag(percentage=34, allow_list=(ZERO,))
        self.assertTrue(flag.covers(""))     # bucket 33
        self.assertTrue(flag.covers(ZERO))   # allow-listed, bucket 77
        self.assertFalse(flag.covers(SOME))  # bucket 66, not listed


class _Cursor:
    def __init__(self, rows):
        self.rows = list(rows)
        self.executed = []
        self.closed = False

    def execute(self, sql, *args):
        self.executed.append((sql, args))

    def fetchone(self):
        return self.rows.pop(0) if self.rows else None

    def close(self):
        self.closed = True


class _Connection:
    def __init__(self, rows):
        self.cursors = []
        self.rows = rows

    def cursor(self):
        self.cursors.append(_Cursor(self.rows))
        return self.cursors[-1]


class ReadTest(unittest.TestCase):
    def test_one_statement_through_a_connection(self):
        connection = _Connection([(50, 7, f'["{SOME}", "{ZERO}"]')])
        flag = read_rollout_flag(connection)
        self.assertEqual(flag, RolloutFlag(percentage=50, allow_list=(SOME, ZERO), version=7))
        (cursor,) = connection.cursors
        self.assertEqual(cursor.executed, [(ROLLOUT_FLAG_SQL, ())])
        self.assertTrue(cursor.closed)
        self.assertIn("to_json(allow_list)::text", ROLLOUT_FLAG_SQL)
        self.assertIn("name = 'org_path'", ROLLOUT_FLAG_SQL)

    def test_through_a_cursor_left_open(self):
        cursor = _Cursor([(0, 0, "[]")])
        self.assertEqual(read_rollout_flag(cursor), RolloutFlag())
        self.assertFalse(cursor.closed)

    def test_no_row_is_a_pg_error(self):
        with self.assertRaises(orgquake.PgError):
            read_rollout_flag(_Connection([]))

    def test_from_row(self):
        self.assertEqual(RolloutFlag.from_row((5, 2, [ZERO])),
                         RolloutFlag(percentage=5, allow_list=(ZERO,), version=2))
        self.assertEqual(RolloutFlag.from_row((100, 9, "[]")).allow_list, ())
        with self.assertRaises(ValueError):
            RolloutFlag.from_row((5, 2, '{"a": 1}'))


if __name__ == "__main__":
    unittest.main()
