"""The places pages: an authority's trend, funnel and deprivation, with downloads."""

import pytest

pytestmark = pytest.mark.django_db


def test_the_index_lists_authorities_by_region(client):
    html = client.get("/places/").content.decode()
    assert "Hartlepool" in html and "North East" in html and "Open Government Licence" in html


def test_picking_an_authority_goes_to_its_page(client):
    r = client.get("/places/", {"authority": "Hartlepool"})
    assert r.status_code == 302 and r["Location"] == "/places/E06000001/"


def test_an_authority_page_shows_its_rate_against_england_region_and_neighbours(client):
    html = client.get("/places/E06000001/").content.decode()
    assert "Hartlepool" in html and "England" in html and "Statistical neighbours" in html
    assert "/places/E06000001/trend.svg" in html and "/places/E06000001/funnel.svg" in html
    assert "/places/E06000001/deprivation.svg" in html


@pytest.mark.parametrize("kind", ["trend", "funnel", "deprivation"])
@pytest.mark.parametrize("fmt, magic", [("svg", b"<?xml"), ("png", b"\x89PNG")])
def test_charts_download_as_svg_and_png(client, kind, fmt, magic):
    r = client.get(f"/places/E06000001/{kind}.{fmt}", {"download": 1})
    assert r.status_code == 200 and r.content.startswith(magic)
    assert r["Content-Disposition"].startswith("attachment")


def test_the_data_downloads_as_csv(client):
    r = client.get("/places/E06000001/data.csv")
    assert r.status_code == 200
    header = r.content.decode().splitlines()[0]
    assert header.startswith("series,year,count,population,rate,ci_lower,ci_upper")
    funnel = client.get("/places/funnel.csv").content.decode().splitlines()
    assert funnel[0].startswith("code,name,region,count,population,rate,expected")
    assert len(funnel) > 150


def test_an_unknown_authority_is_404(client):
    assert client.get("/places/E99999999/").status_code == 404
