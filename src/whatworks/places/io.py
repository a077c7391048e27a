"""Readers for the DfE children-looked-after files and the IMD 2019 summaries.

Two DfE layouts: the tidy explore-education-statistics files (2019 onwards; one row per
geography x year x measure) and the wide statistical-first-release tables (2010-2017; one row per
geography, one column per breakdown). Both come back as the same long frame (:data:`COLUMNS`).

Numbers are read strictly: a cell is a number, empty, or a DfE symbol (:data:`SYMBOLS`), all
symbols becoming NaN (never 0) with the symbol kept beside the value. Anything else raises
:class:`~whatworks.errors.InputError` naming the file, the data row (1 = first row under the
header, as elsewhere in whatworks) and the column; a problem in the header names the column. A
UTF-8 byte-order mark is dropped and header cells are stripped.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .boundaries import ENGLAND, REGIONS

SYMBOLS = {
    "c": "confidential (suppressed)",
    "x": "not available",
    "z": "not applicable",
    "k": "rounds to zero but is not zero",
    "u": "low reliability",
    "..": "not available (older releases)",
    ":": "not available",
}

# Measures: registry key -> the labels DfE uses for it (tidy files: column population_count).
MEASURES = {
    "cla_31_march": ("Children looked after at 31 March each year",
                     "Children looked after at 31 March"),
    "cla_started": ("Children starting to be looked after each year",
                    "Children starting to be looked after during the year"),
    "cla_ceased": ("Children ceasing to be looked after each year",
                   "Children ceasing to be looked after during the year"),
    "cla_uasc_31_march": ("Children looked after at 31 March who were unaccompanied "
                          "asylum-seeking children",),
    "adopted": ("Children looked after who were adopted during the year",),
}
_LABEL_TO_MEASURE = {label.lower(): key for key, labels in MEASURES.items() for label in labels}

COLUMNS = ["year", "level", "code_published", "old_code", "name", "region_code", "region_name",
           "measure", "count", "count_symbol", "population", "population_symbol", "rate_published"]

TIDY_REQUIRED = ("time_period", "geographic_level", "country_code", "country_name",
                 "population_count", "number")
TIDY_OPTIONAL = ("time_identifier", "region_code", "region_name", "old_la_code", "la_name",
                 "new_la_code", "population_estimate", "rate_per_10000")
LEVELS = {"national": "national", "regional": "regional", "local authority": "local authority"}

_NUMBER = re.compile(r"-?(\d+|\d{1,3}(,\d{3})+)(\.\d+)?")
_WIDE_COUNT = re.compile(r"(?:CLA_Mar|MarTotal_)(\d{4})")
_WIDE_POP = re.compile(r"Mid(\d{4})Pop0-17")
_WIDE_LEVELS = {"national": "national", "gor": "regional", "region": "regional",
                "la": "local authority"}


def read_csv_text(path: str | Path) -> pd.DataFrame:
    """Every cell as stripped text ('' for empty); header cells stripped; BOM dropped."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such file; check the path", file=str(path))
    if path.is_dir():
        raise InputError("is a folder, not a CSV file", file=str(path))
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    except UnicodeDecodeError:
        raise InputError("is not UTF-8 text; save it as CSV (UTF-8)", file=str(path)) from None
    except pd.errors.EmptyDataError:
        raise InputError("is empty; it needs a header row and data rows", file=str(path)) from None
    except pd.errors.ParserError as exc:
        raise InputError(f"is not a well-formed CSV ({exc})".replace("\n", " "),
                         file=str(path)) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.apply(lambda s: s.str.strip())


def parse_numbers(values, *, file: str, column: str, rows=None, allow_negative: bool = False
                  ) -> tuple[np.ndarray, list[str]]:
    """Text cells -> (floats, symbols). Empty or a DfE symbol -> NaN, the symbol kept ("" if none).

    ``rows`` gives each cell's data-row number for messages (default 1, 2, ...).
    """
    values = list(values)
    rows = list(range(1, len(values) + 1)) if rows is None else list(rows)
    out = np.full(len(values), np.nan)
    symbols = [""] * len(values)  # the DfE symbol of a cell, "" for a number or an empty cell
    for i, raw in enumerate(values):
        text = "" if raw is None else str(raw).strip()
        if text == "":
            continue
        if text.lower() in SYMBOLS:
            symbols[i] = text.lower()
            continue
        if not _NUMBER.fullmatch(text):
            known = ", ".join(repr(s) for s in SYMBOLS)
            raise InputError(f"'{text}' is not a number; expected a number, an empty cell or a "
                             f"DfE symbol ({known})", file=file, row=rows[i], column=column)
        x = float(text.replace(",", ""))
        if x < 0 and not allow_negative:
            raise InputError(f"{text} is negative; counts and populations cannot be",
                             file=file, row=rows[i], column=column)
        out[i] = x
    return out, symbols


def read_cla(path: str | Path) -> pd.DataFrame:
    """Read a DfE children-looked-after file of either layout (chosen from its header)."""
    frame = read_csv_text(path)
    cols = set(frame.columns)
    if {"time_period", "geographic_level"} <= cols:
        return _tidy(frame, str(path))
    if {"geog_l", "geog_c", "geog_n"} <= cols:
        return _wide(frame, str(path))
    raise InputError("unexpected columns: this is neither a DfE explore-education-statistics file "
                     "(time_period, geographic_level, ...) nor an older DfE table (geog_l, geog_c, "
                     f"geog_n, CLA_Mar<year>); the columns are {', '.join(frame.columns)}",
                     file=str(path))


def read_tidy(path: str | Path) -> pd.DataFrame:
    """Read an explore-education-statistics file (2019 onwards) into the long frame."""
    frame = read_csv_text(path)
    return _tidy(frame, str(path))


def read_wide(path: str | Path) -> pd.DataFrame:
    """Read an older statistical-release table (2010-2017) into the long frame."""
    frame = read_csv_text(path)
    return _wide(frame, str(path))


def _check_columns(frame: pd.DataFrame, file: str, required, optional) -> None:
    for col in frame.columns:
        if col not in required and col not in optional:
            raise InputError("unexpected column in the header; an explore-education-statistics "
                             f"file of children looked after has {', '.join(required + optional)}",
                             file=file, column=col)
    for col in required:
        if col not in frame.columns:
            raise InputError(f"missing from the header; the columns are {', '.join(frame.columns)}",
                             file=file, column=col)


def _tidy(frame: pd.DataFrame, file: str) -> pd.DataFrame:
    _check_columns(frame, file, TIDY_REQUIRED, TIDY_OPTIONAL)
    rows = np.arange(1, len(frame) + 1)
    get = lambda col: frame[col] if col in frame.columns else pd.Series([""] * len(frame))  # noqa: E731
    years = []
    for i, text in enumerate(frame["time_period"]):
        if not re.fullmatch(r"\d{4}", text):
            raise InputError(f"'{text}' is not a year (expected four digits, e.g. 2023)",
                             file=file, row=int(rows[i]), column="time_period")
        years.append(int(text))
    levels = []
    for i, text in enumerate(frame["geographic_level"]):
        level = LEVELS.get(text.lower())
        if level is None:
            raise InputError(f"'{text}' is not a geographic level this reader knows (National, "
                             "Regional, Local authority)", file=file, row=int(rows[i]),
                             column="geographic_level")
        if level == "local authority" and "new_la_code" not in frame.columns:
            raise InputError("a local-authority row needs the columns old_la_code, la_name and "
                             "new_la_code", file=file, row=int(rows[i]), column="geographic_level")
        levels.append(level)
    count, count_sym = parse_numbers(frame["number"], file=file, column="number", rows=rows)
    pop, pop_sym = parse_numbers(get("population_estimate"), file=file,
                                 column="population_estimate", rows=rows)
    rate, _ = parse_numbers(get("rate_per_10000"), file=file, column="rate_per_10000", rows=rows)
    level = np.array(levels, dtype=object)
    code = np.where(level == "local authority", get("new_la_code"),
                    np.where(level == "regional", get("region_code"), frame["country_code"]))
    name = np.where(level == "local authority", get("la_name"),
                    np.where(level == "regional", get("region_name"), frame["country_name"]))
    labels = frame["population_count"]
    measure = [_LABEL_TO_MEASURE.get(label.lower(), label) for label in labels]
    out = pd.DataFrame({
        "year": np.array(years, dtype=int), "level": level, "code_published": code,
        "old_code": np.where(level == "local authority", get("old_la_code"), ""),
        "name": name, "region_code": get("region_code").to_numpy(),
        "region_name": get("region_name").to_numpy(), "measure": measure,
        "count": count, "count_symbol": count_sym, "population": pop,
        "population_symbol": pop_sym, "rate_published": rate})
    return out[COLUMNS]


def _wide(frame: pd.DataFrame, file: str) -> pd.DataFrame:
    counts = [c for c in frame.columns if _WIDE_COUNT.fullmatch(c)]
    if len(counts) != 1:
        found = ", ".join(counts) if counts else "none"
        raise InputError("unexpected columns in the header: an older DfE table needs exactly one column of "
                         f"children looked after at 31 March (CLA_Mar<year> or MarTotal_<year>); "
                         f"found {found}", file=file,
                         column=counts[1] if len(counts) > 1 else "CLA_Mar<year>")
    count_col = counts[0]
    year = int(_WIDE_COUNT.fullmatch(count_col).group(1))
    pops = [c for c in frame.columns if _WIDE_POP.fullmatch(c)]
    rows = np.arange(1, len(frame) + 1)
    keep = []
    levels = []
    for i, text in enumerate(frame["geog_l"]):
        level = _WIDE_LEVELS.get(text.lower())
        if text == "" and re.fullmatch(r"\d{3}", frame["geog_c"].iloc[i]):
            level = "local authority"  # 2017 leaves the level of the Isles of Scilly (420) empty
        if level is None:
            raise InputError(f"'{text}' is not a geographic level this reader knows (National, "
                             "GOR or REGION, LA)", file=file, row=int(rows[i]), column="geog_l")
        name = frame["geog_n"].iloc[i]
        if level == "regional" and name.lower() in ("inner london", "outer london"):
            continue  # sub-regions of London, also counted in its London row
        keep.append(i)
        levels.append(level)
    sub = frame.iloc[keep]
    sub_rows = rows[keep]
    count, count_sym = parse_numbers(sub[count_col], file=file, column=count_col, rows=sub_rows)
    if pops:
        pop, pop_sym = parse_numbers(sub[pops[0]], file=file, column=pops[0], rows=sub_rows)
    else:
        pop, pop_sym = np.full(len(sub), np.nan), [""] * len(sub)  # no population column
    level = np.array(levels, dtype=object)
    published = (sub["New_geog_code"].to_numpy() if "New_geog_code" in sub.columns
                 else np.array([""] * len(sub), dtype=object))
    names = np.array([n.strip() for n in sub["geog_n"]], dtype=object)
    codes, region_codes, region_names, old = [], [], [], []
    by_name = {v.lower(): k for k, v in REGIONS.items()}
    for i in range(len(sub)):
        if level[i] == "national":
            codes.append(ENGLAND[0])
            names[i] = ENGLAND[1]
            region_codes.append("")
            old.append("")
        elif level[i] == "regional":
            rc = published[i] if published[i] else by_name.get(names[i].lower())
            if rc not in REGIONS:
                raise InputError(f"'{names[i]}' is not an English region", file=file,
                                 row=int(sub_rows[i]), column="geog_n")
            codes.append(rc)
            names[i] = REGIONS[rc]
            region_codes.append(rc)
            old.append("")
        else:
            old_code = sub["geog_c"].iloc[i]
            if not re.fullmatch(r"\d{3}", old_code):
                raise InputError(f"'{old_code}' is not a 3-digit DfE authority code", file=file,
                                 row=int(sub_rows[i]), column="geog_c")
            codes.append(published[i])
            region_codes.append("")
            old.append(old_code)
        region_names.append(REGIONS.get(region_codes[-1], ""))
    out = pd.DataFrame({
        "year": year, "level": level, "code_published": codes, "old_code": old, "name": names,
        "region_code": region_codes, "region_name": region_names, "measure": "cla_31_march",
        "count": count, "count_symbol": count_sym, "population": pop, "population_symbol": pop_sym,
        "rate_published": np.nan})
    return out[COLUMNS]


IMD_COLUMNS = {
    "Upper Tier Local Authority District code (2019)": "imd_code",
    "Upper Tier Local Authority District name (2019)": "imd_name",
    "IMD - Average score": "imd_score",
    "IMD - Rank of average score": "imd_rank",
    "IMD - Average rank": "imd_average_rank",
    "IMD - Proportion of LSOAs in most deprived 10% nationally": "imd_most_deprived_10pc",
    "IMD 2019 - Extent": "imd_extent",
    "IMD 2019 - Local concentration": "imd_local_concentration",
}


def read_imd(path: str | Path) -> pd.DataFrame:
    """IMD 2019 upper-tier summaries: code, name, average score (higher = more deprived), ranks.

    References
    ----------
    Ministry of Housing, Communities and Local Government (2019). The English Indices of
    Deprivation 2019: technical report (local-authority summaries, section 3.8).
    """
    file = str(path)
    frame = read_csv_text(path)
    for col in IMD_COLUMNS:
        if col not in frame.columns:
            raise InputError(f"missing from the header; an IMD 2019 upper-tier summary file has "
                             f"{', '.join(IMD_COLUMNS)}", file=file, column=col)
    out = pd.DataFrame({"imd_code": frame[next(iter(IMD_COLUMNS))].to_numpy(),
                        "imd_name": frame["Upper Tier Local Authority District name (2019)"]})
    for col, key in IMD_COLUMNS.items():
        if key in ("imd_code", "imd_name"):
            continue
        values, symbols = parse_numbers(frame[col], file=file, column=col)
        out[key] = values
    for i, code in enumerate(out["imd_code"]):
        if not re.fullmatch(r"E\d{8}", code):
            raise InputError(f"'{code}' is not a 9-character authority code", file=file,
                             row=i + 1, column=next(iter(IMD_COLUMNS)))
    duplicated = out["imd_code"].duplicated(keep="first").to_numpy()
    if duplicated.any():
        i = int(duplicated.argmax())
        first = int((out["imd_code"] == out["imd_code"].iloc[i]).to_numpy().argmax())
        raise InputError(f"authority code '{out['imd_code'].iloc[i]}' appears again (first in row "
                         f"{first + 1}); each authority has one row: remove the duplicate",
                         file=file, row=i + 1, column=next(iter(IMD_COLUMNS)))
    return out
