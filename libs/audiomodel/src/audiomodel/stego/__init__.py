"""LSB steganalysis of integer PCM (being split into statistics, carving and the analyzer)."""

from audiomodel.stego.statistics import FEATURE_NAMES, LsbAnalyzer, StegoReport, analyse_lsb

__all__ = ["FEATURE_NAMES", "LsbAnalyzer", "StegoReport", "analyse_lsb"]
