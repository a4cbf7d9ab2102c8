"""The test runner: Django's, with throttle limits raised so suites can register many users."""

import os

from django.conf import settings
from django.test.runner import DiscoverRunner

# High enough that no functional suite (or the servers it starts) is ever throttled; the
# throttling tests set the real rates back with override_settings.
TEST_RATE = "1000000/s"
THROTTLE_ENV = ("THROTTLE_LOGIN_USERNAME", "THROTTLE_AUTH_IP", "THROTTLE_MONEY_USER")


class ThrottleAwareTestRunner(DiscoverRunner):
    """Raises every throttle rate for the run, in this process and in servers it spawns."""

    def setup_test_environment(self, **kwargs):
        super().setup_test_environment(**kwargs)
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
