"""`gankit serve`: a local web app (FastAPI + one small page, every file served locally) for
the runs below a folder: generate, interpolate, animate clips, inpaint, upscale, translate."""
