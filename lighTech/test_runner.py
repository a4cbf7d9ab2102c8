"""Test runner: Django's, with a fast password hasher, quiet 4xx logs and raised rate limits."""

import logging
import os
import warnings

from django.conf import settings
from django.test.runner import DiscoverRunner

# High enough that no functional suite (or a server it starts) is ever throttled; the
# throttling tests set real rates back with override_settings.
TEST_RATE = "1000000/s"
THROTTLE_ENV = ("THROTTLE_LOGIN_USERNAME", "THROTTLE_AUTH_IP", "THROTTLE_MONEY_USER")


class LightTechTestRunner(DiscoverRunner):
    """Hashing passwords with production cost would dominate the suite's run time."""

    def setup_test_environment(self, **kwargs):
        super().setup_test_environment(**kwargs)
        # Django's documented speed-up for tests; the hasher choice is not under test here
        # (lighTech.tests.test_security tests the production hashers explicitly).
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
        # Every refused request logs a WARNING; hundreds of intended 4xx would bury failures.
        logging.getLogger("django.request").setLevel(logging.ERROR)
        # WhiteNoise warns that STATIC_ROOT is absent until `collectstatic` has run; the tests
        # serve static files through the finders instead.
        warnings.filterwarnings("ignore", message="No directory at")
        # Suites register many users from one IP: raise every limit, here and in servers
        # the tests spawn (they inherit the environment).
        self._saved_env = {name: os.environ.get(name) for name in THROTTLE_ENV}
        for name in THROTTLE_ENV:
            os.environ[name] = TEST_RATE
        self._saved_rates = settings.THROTTLE_RATES
        settings.THROTTLE_RATES = dict.fromkeys(settings.THROTTLE_RATES, TEST_RATE)

    def teardown_test_environment(self, **kwargs):
        settings.THROTTLE_RATES = self._saved_rates
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        super().teardown_test_environment(**kwargs)
