"""What every places chart carries besides its data: a title with the year(s), a legend and a
source line, so a chart copied out of the page or downloaded still says what it shows and where
the numbers come from (issue 10)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

DFE = ("Department for Education, Children looked after in England including adoptions "
       "(SSDA903), with ONS populations aged 0-17")
IMD = "MHCLG, English Indices of Deprivation 2019"
OGL = "Contains public sector information licensed under the Open Government Licence v3.0."
SHIPPED_FILES = frozenset({
    "cla_number_and_rate_per_10k_children.csv", "2010_SFR27_2010_March.csv", "2011_SFR21_CLA.csv",
    "2012_SFR20_CLA2012.csv", "2013_SFR36_CLA2013.csv", "2014_SFR36_CLA2014.csv",
    "2015_SFR34_CLA2015.csv", "2016_SFR41_CLA2016.csv", "2017_SFR50_CLA2017.csv"})


def source_line(files: Iterable[str] = (), *, imd: bool = True) -> str:
    """The source of a chart's numbers: DfE's release when every file is one we ship (or none is
    named), otherwise the files by name, which is all we know about them."""
    names = sorted({str(f) for piece in files for f in str(piece).split("+") if f})
    own = [f for f in names if f not in SHIPPED_FILES]
    first = DFE if not own else "files " + ", ".join(own)
    if imd:
        first += "; " + IMD
    return (f"Source: {first}. " + (OGL if not own else "")).strip()


def years_text(years: Iterable[int]) -> str:
    """Runs of years: "2010-2017, 2019-2023"; "2023" for one year."""
    ys = sorted({int(y) for y in years})
    runs: list[list[int]] = []
    for y in ys:
        if runs and y == runs[-1][-1] + 1:
            runs[-1].append(y)
        else:
            runs.append([y])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def missing_years_text(years: Iterable[int]) -> str:
    """The note for years with no data, as shown on charts, pages and downloads."""
    ys = sorted({int(y) for y in years})
    if not ys:
        return ""
    return f"no data published in our source for {years_text(ys)}"


def finish(fig, ax, *, title: str, source: str, legend_loc: str = "best",
           legend_below: bool = False) -> None:
    """Title, legend (inside the axes, or under them with ``legend_below``) and the source line
    under everything (kept by ``bbox_inches="tight"``)."""
    ax.set_title("\n".join(textwrap.wrap(title, 80)), fontsize=10)
    handles, _ = ax.get_legend_handles_labels()
    anchor = ax.xaxis.label
    if handles:
        if legend_below:
            anchor = ax.legend(fontsize=7.5, frameon=False, loc="upper left", ncol=1,
                               bbox_to_anchor=(-0.02, -0.13), borderaxespad=0)
        else:
            ax.legend(fontsize=7.5, frameon=False, loc=legend_loc)
    if source:
        ax.annotate("\n".join(textwrap.wrap(source, 110)), xy=(0, 0),
                    xycoords=("axes fraction", anchor), xytext=(-30, -8),
                    textcoords="offset points", fontsize=6.5, color="0.25", ha="left", va="top",
                    annotation_clip=False)
