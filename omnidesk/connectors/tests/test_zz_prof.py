import cProfile, pstats, time, io
import pytest
from django.db import transaction
from omnidesk.connectors import journal
from omnidesk.connectors.base import IdentityClaim, InboundEvent
from omnidesk.testing.factories import make_inbox
pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

def ev(i, c):
    return InboundEvent(external_id=f"x-{i}", identities=[IdentityClaim("external", c), IdentityClaim("email", f"{c}@example.com", verified=True)], text="hello there, my card does not work", contact_name="Some One")

def test_prof():
    inbox = make_inbox("api")
    def one(i):
        with transaction.atomic(using=journal.alias()):
            journal.append([(inbox.pk, journal.encode([ev(i, f"c-{i%200}")]))])
        journal.process()
    for i in range(250): one(i)
    n = 300
    t = time.process_time()
    for i in range(250, 250 + n): one(i)
    print("\nCPU ms per entry (append+process)", (time.process_time() - t) / n * 1000)
    pr = cProfile.Profile(); pr.enable()
    for i in range(1000, 1000 + n): one(i)
    pr.disable()
    s = io.StringIO(); pstats.Stats(pr, stream=s).sort_stats("cumulative").print_stats(45); print(s.getvalue()[:9000])
