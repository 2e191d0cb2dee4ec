import time
def test_a(app):
    pass
def test_b(app):
    pass
def test_c(catalogue):
    pass
def test_d(catalogue):
    pass
def test_e(staff):
    pass
def test_f(staff):
    pass
