"""The teaching tier: what the notebooks show on top of the library, one package per chapter.

Widgets, figures, side-by-side measurements (`labkit bench ...`) and stories live here, never in the library
packages below (`labkit.events`, `domain`, `views`, `layouts`, `patterns`, `services`, `containers`, `charts`),
which do not import from here (a layering contract in `make test` keeps it so).

    databases      notebooks 01-02: the query four ways measured, its figures and control; `labkit bench query`
    messaging      notebooks 03, 06: dual writes and consumers side by side, projection lag, the pause/resume
                   control; `labkit bench projections`
    eventsourcing  notebooks 04-05: the Order 101 story, the replay slider, load and replay measurements;
                   `labkit bench events`
    microservices  notebook 07: the saga timeline, view lag; `labkit bench services`
    dockerfiles    notebooks 08-10: the Dockerfile explainer's tables, forms and widget
    kubernetes     notebooks 11-13: the values playground, object maps and reconciliation figures
    ratios         a ratio of two measurements in words (`26.0x slower`), for every side-by-side table
    log_axes       log axes labelled with plain numbers (`20`, `10k`), for every log-scale figure
"""
