from fortnox.models import FortnoxConnection


def test_connection_admin_never_shows_tokens_and_can_refresh(admin_client, connection, sandbox):
    page = admin_client.get(f"/admin/fortnox/fortnoxconnection/{connection.pk}/change/")
    assert page.status_code == 200
    assert connection.access_token not in page.content.decode()
    assert connection.refresh_token not in page.content.decode()
    response = admin_client.post(
        "/admin/fortnox/fortnoxconnection/",
        {"action": "refresh_now", "_selected_action": [connection.pk]},
    )
    assert response.status_code == 302
    fresh = FortnoxConnection.objects.get(pk=connection.pk)
    assert fresh.refresh_token != connection.refresh_token
    assert fresh.last_refresh_success_at is not None
