import base64
import io
from types import SimpleNamespace

import pytest

from ongoing.sandbox.seed import API_PASSWORD, sandbox_seed


@pytest.fixture
def sandbox(db):
    """The seeded demo warehouse without its opening stock (these tests start from an empty
    goods owner and use article numbers of their own): warehouse, goods_owner, user, password."""
    user = sandbox_seed(stdout=io.StringIO())
    user.goods_owner.articles.all().delete()
    return SimpleNamespace(
        warehouse=user.warehouse, goods_owner=user.goods_owner, user=user, password=API_PASSWORD
    )


def basic_auth(username: str, password: str) -> dict:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}
