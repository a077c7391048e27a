"""The places pages: an authority's trend, funnel and deprivation, with downloads."""

import pytest

pytestmark = pytest.mark.django_db


def test_the_index_lists_authorities_by_region(client):
    html = client.get("/places/").content.decode()
    assert "Hartlepool" in html and "North East" in html and "Open Government Licence" in html


def test_picking_an_authority_goes_to_its_page(client):
    r = client.get("/places/", {"authority": "Hartlepool"})
    assert r.status_code == 302 and r["Location"] == "/places/E06000001/"


def test_an_authority_page_shows_its_rate_against_england_region_and_similar_authorities(client):
    html = client.get("/places/E06000001/").content.decode()
    assert "Hartlepool" in html and "England" in html
    assert "/places/E06000001/trend.svg" in html and "/places/E06000001/funnel.svg" in html
    assert "/places/E06000001/deprivation.svg" in html
    # issue 10: our match is named for what it is, and explained
    html = html.replace("&#x27;", "'")
    said = "not the Department for Education's statistical neighbours"
    assert said in html and html.count("statistical neighbours") == html.count(said)
    assert "Similar authorities (our match on deprivation and size)" in html


def test_the_missing_year_is_said_on_the_page_and_in_the_table(client):
    html = client.get("/places/E06000001/").content.decode()
    assert "No data published in our source for 2018" in html  # the notice and the table row
    assert '<th scope="row">2018</th><td colspan="4" class="meta">No data published' in html


def test_every_chart_carries_a_title_its_year_a_legend_and_the_source(client):
    from tests.places.svg import svg_text

    wanted = {
        "trend": ["Hartlepool: children looked after per 10,000 children, 2010-2017, 2019-2023",
                  "no data published in our source for 2018", "Hartlepool (E06000001)",
                  "North East", "similar authorities (our match on deprivation and size)"],
        "funnel": ["per 10,000 children, 2023: funnel plot of 152 authorities",
                   "99.8% limits", "Hartlepool"],
        "deprivation": ["against deprivation, 2023", "expected given deprivation",
                        "as expected (95% prediction interval", "Hartlepool"],
    }
    for kind, words in wanted.items():
        r = client.get(f"/places/E06000001/{kind}.svg", {"download": 1})
        text = svg_text(r.content)
        for w in words + ["Source: Department for Education", "Open Government Licence"]:
            assert w in text, (kind, w)
    index_funnel = svg_text(client.get("/places/funnel.svg").content)
    assert "funnel plot of 152 authorities" in index_funnel and "Source:" in index_funnel


@pytest.mark.parametrize("kind", ["trend", "funnel", "deprivation"])
@pytest.mark.parametrize("fmt, magic", [("svg", b"<?xml"), ("png", b"\x89PNG")])
def test_charts_download_as_svg_and_png(client, kind, fmt, magic):
    r = client.get(f"/places/E06000001/{kind}.{fmt}", {"download": 1})
    assert r.status_code == 200 and r.content.startswith(magic)
    assert r["Content-Disposition"].startswith("attachment")


def test_the_data_downloads_as_csv_with_the_areas_named(client):
    import io

    import pandas as pd

    r = client.get("/places/E06000001/data.csv")
    assert r.status_code == 200
    frame = pd.read_csv(io.StringIO(r.content.decode()))
    assert frame.columns[0] == "year" and list(frame["year"]) == list(range(2010, 2024))
    for name in ("Hartlepool (E06000001)", "England (E92000001)", "North East (E12000001)",
                 "10 similar authorities (our match on deprivation and size) to Hartlepool, pooled"):
        assert f"{name}: rate per 10,000" in frame.columns and f"{name}: 95% CI lower" in frame.columns
    assert not {"series", "authority", "region", "neighbours"} & set(frame.columns)
    row_2018 = frame[frame["year"] == 2018].iloc[0]
    assert row_2018["note"] == "no data published in our source for 2018"
    assert pd.isna(row_2018["Hartlepool (E06000001): rate per 10,000"])
    assert len(frame["similar authorities (codes and names)"].iloc[0].split("; ")) == 10
    assert frame["source"].iloc[0].startswith("Source: Department for Education")
    funnel = client.get("/places/funnel.csv").content.decode().splitlines()
    assert funnel[0].startswith("code,name,region,count,population,rate,expected")
    assert funnel[0].endswith(",year,source")
    assert len(funnel) > 150


def test_an_unknown_authority_is_404(client):
    assert client.get("/places/E99999999/").status_code == 404
