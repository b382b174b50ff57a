"""Error classes, and the mapping of library exceptions by module and class name."""

import unittest

import orgquake
from orgquake import errors


def library_error(module, *class_names, **attributes):
    """An exception whose MRO looks like a library's, e.g. redis.exceptions.ConnectionError."""
    base = Exception
    for name in reversed(class_names):
        base = type(name, (base,), {"__module__": module})
    error = base("boom\nsecond line")
    for key, value in attributes.items():
        setattr(error, key, value)
    return error


class ErrorClassTest(unittest.TestCase):
    def test_each_class_has_its_protocol_name_and_definiteness(self):
        expected = {
            orgquake.LockTimeout: ("LockTimeout", True),
            orgquake.FencedOut: ("FencedOut", True),
            orgquake.UnknownUser: ("UnknownUser", True),
            orgquake.VerificationError: ("VerificationError", False),
            orgquake.RedisUnavailable: ("RedisUnavailable", False),
            orgquake.MigrationError: ("MigrationError", False),
            orgquake.InjectedError: ("InjectedError", False),
            orgquake.PgConnectionError: ("PgConnectionError", False),
            orgquake.PgError: ("PgError", False),
            orgquake.HttpError: ("HttpError", False),
        }
        for cls, (name, definite) in expected.items():
            with self.subTest(cls=cls.__name__):
                self.assertTrue(issubclass(cls, orgquake.OrgquakeError))
                self.assertEqual((cls.error_name, cls.definite), (name, definite))
                self.assertIn(name, errors.ERROR_NAMES)

    def test_sdk_errors_classify_by_class(self):
        self.assertEqual(errors.classify(orgquake.LockTimeout("held for 5000 ms")),
                         ("LockTimeout", True, "held for 5000 ms"))
        self.assertEqual(errors.classify(orgquake.MigrationError("stripe said 409")),
                         ("MigrationError", False, "stripe said 409"))


class LibraryClassifyTest(unittest.TestCase):
    CASES = [
        (("redis.exceptions", "ConnectionError"), "RedisUnavailable"),
        (("redis.exceptions", "TimeoutError"), "RedisUnavailable"),
        (("redis.exceptions", "BusyLoadingError", "ConnectionError"), "RedisUnavailable"),
        (("redis.exceptions", "ResponseError"), "Error"),
        (("psycopg2", "OperationalError", "DatabaseError", "Error"), "PgConnectionError"),
        (("psycopg2.errors", "UniqueViolation", "IntegrityError", "Error"), "PgError"),
        (("sqlalchemy.exc", "OperationalError", "DBAPIError"), "PgConnectionError"),
        (("sqlalchemy.exc", "DisconnectionError"), "PgConnectionError"),
        (("sqlalchemy.exc", "InterfaceError", "DBAPIError"), "PgConnectionError"),
        (("sqlalchemy.exc", "IntegrityError", "DBAPIError"), "PgError"),
        (("httpx", "ConnectTimeout", "TimeoutException", "TransportError"), "HttpError"),
        (("requests.exceptions", "ConnectionError"), "HttpError"),
        (("stripe._error", "APIConnectionError"), "HttpError"),
        (("stripe.error", "CardError"), "Error"),
        (("mylib", "ConnectionError"), "Error"),
    ]

    def test_library_exceptions_map_by_module_and_class_name(self):
        for (module, *names), expected in self.CASES:
            with self.subTest(error=f"{module}.{names[0]}"):
                name, definite, _ = errors.classify(library_error(module, *names))
                self.assertEqual((name, definite), (expected, False))

    def test_an_invalidated_sqlalchemy_connection_is_a_connection_error(self):
        error = library_error("sqlalchemy.exc", "ProgrammingError", "DBAPIError",
                              connection_invalidated=True)
        self.assertEqual(errors.classify(error)[0], "PgConnectionError")

    def test_anything_else_is_error_with_its_class_name(self):
        self.assertEqual(errors.classify(KeyError("u0001")), ("Error", False, "KeyError: 'u0001'"))

    def test_the_message_is_one_line_of_bounded_length(self):
        _, _, message = errors.classify(library_error("redis.exceptions", "ConnectionError"))
        self.assertEqual(message, "ConnectionError: boom second line")
        _, _, long_message = errors.classify(RuntimeError("x" * 5000 + "\ny"))
        self.assertNotIn("\n", long_message)
        self.assertLessEqual(len(long_message), errors.MAX_MESSAGE_CHARS)


if __name__ == "__main__":
    unittest.main()
