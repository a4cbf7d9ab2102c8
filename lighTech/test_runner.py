"""Test runner: Django's, with a fast password hasher and quiet 4xx request logs."""

import logging
import warnings

from django.conf import settings
from django.test.runner import DiscoverRunner


class LightTechTestRunner(DiscoverRunner):
    """Hashing passwords with production cost would dominate the suite's run time."""

    def setup_test_environment(self, **kwargs):
        super().setup_test_environment(**kwargs)
        # Django's documented speed-up for tests; the hasher choice is not under test here.
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
        # Every refused request logs a WARNING; hundreds of intended 4xx would bury failures.
        logging.getLogger("django.request").setLevel(logging.ERROR)
        # WhiteNoise warns that STATIC_ROOT is absent until `collectstatic` has run; the tests
        # serve static files through the finders instead.
        warnings.filterwarnings("ignore", message="No directory at")
