import pytest


@pytest.fixture(autouse=True)
def single_faiss_thread():
    """Run faiss on one thread: the arrays here are tiny, and OpenMP start-up
    on a busy machine costs more than the search."""
    import faiss

    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(previous)
