"""The basic round trip: create, read, list, patch, delete a job over xapi2."""


def test_job_round_trip(api):
    job = api.job(status="open", tags=["python"])
    assert job["id"].startswith("job_")
    assert job["data"]["slug"] == "backend-engineer"
    assert job["data"]["opened_at"] is not None
    got = api.get(f"/data/job/{job['id']}").get_json()
    assert got == job
    page = api.get("/data/job?tags=python").get_json()
    assert [i["id"] for i in page["items"]] == [job["id"]]
    r = api.patch(f"/data/job/{job['id']}", json={"status": "closed"})
    assert r.status_code == 200 and r.get_json()["data"]["closed_at"]
    assert api.delete(f"/data/job/{job['id']}").status_code == 204
    assert api.get(f"/data/job/{job['id']}").status_code == 404


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json() == {"status": "ok"}
