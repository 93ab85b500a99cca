"""Snapshot a benchmark TTree into an RNTuple with ROOT's RDataFrame (kRNTuple, ZSTD level 5,
ROOT's default cluster and page sizes), as the issue's benchmark asks.

    python tests/python/bench_write_rntuple.py TTREE.root OUT.root
"""

import os
import sys
import warnings

warnings.filterwarnings("ignore")


def main():
    src, out = sys.argv[1], sys.argv[2]
    import ROOT

    ROOT.gErrorIgnoreLevel = ROOT.kWarning
    df = ROOT.RDataFrame("Events", src)
    o = ROOT.RDF.RSnapshotOptions()
    o.fOutputFormat = ROOT.RDF.ESnapshotOutputFormat.kRNTuple
    o.fCompressionAlgorithm = ROOT.RCompressionSetting.EAlgorithm.kZSTD
    o.fCompressionLevel = 5
    tmp = out + ".tmp"
    df.Snapshot("Events", tmp, list(df.GetColumnNames()), o)
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
