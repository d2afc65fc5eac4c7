// chute._core's exception classes (each also a built-in: ValueError, OSError, KeyError,
// MemoryError) and the one translator from engine errors to them.
#include <cstring>

#include "chute/core/error.h"
#include "common.h"

namespace chute::python {
namespace {

PyObject* g_chute_error = nullptr;
PyObject* g_io_error = nullptr;
PyObject* g_format_error = nullptr;
PyObject* g_decode_error = nullptr;
PyObject* g_invalid_argument = nullptr;
PyObject* g_key_error = nullptr;
PyObject* g_query_error = nullptr;
PyObject* g_locked_error = nullptr;
PyObject* g_invalid_name = nullptr;
PyObject* g_resource_error = nullptr;
PyObject* g_version_error = nullptr;
PyObject* g_checkout_error = nullptr;
PyObject* g_empty_commit_error = nullptr;

PyObject* make_exception(py::module_& m, const char* name, std::vector<PyObject*> bases, const char* doc) {
  py::tuple t(bases.size());
  for (size_t i = 0; i < bases.size(); ++i) t[i] = py::reinterpret_borrow<py::object>(bases[i]);
  std::string qualified = std::string("chute._core.") + name;
  PyObject* cls = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, t.ptr(), nullptr);
  if (!cls) throw py::error_already_set();
  m.add_object(name, py::reinterpret_borrow<py::object>(cls));
  return cls;
}

// Engine messages may quote user bytes that are not valid UTF-8 (a query, a file name): never let
// that turn into a second error while raising the first.
void set_error(PyObject* cls, const char* what) {
  PyObject* msg = PyUnicode_DecodeUTF8(what, static_cast<Py_ssize_t>(std::strlen(what)), "replace");
  PyErr_SetObject(cls, msg);
  Py_XDECREF(msg);
}

// The exception object with its message decoded leniently (see set_error), for classes that carry
// attributes besides the message.
py::object make_error(PyObject* cls, const char* what) {
  py::str text =
      py::reinterpret_steal<py::str>(PyUnicode_DecodeUTF8(what, static_cast<Py_ssize_t>(std::strlen(what)), "replace"));
  return py::reinterpret_borrow<py::object>(cls)(text);
}

}  // namespace

void register_errors(py::module_& m) {
  g_chute_error = make_exception(m, "ChuteError", {PyExc_Exception}, "Base class of chute's errors.");
  g_io_error = make_exception(m, "IoError", {g_chute_error, PyExc_OSError}, "A file could not be read or written.");
  g_format_error = make_exception(m, "FormatError", {g_chute_error, PyExc_ValueError},
                                  "Bytes on disk do not follow the Deep Lake 3 format.");
  g_decode_error =
      make_exception(m, "DecodeError", {g_chute_error, PyExc_ValueError}, "A sample could not be decoded.");
  g_invalid_argument =
      make_exception(m, "InvalidArgument", {g_chute_error, PyExc_ValueError}, "An argument was rejected.");
  g_key_error =
      make_exception(m, "TensorDoesNotExistError", {g_chute_error, PyExc_KeyError}, "No tensor of that name.");
  g_query_error = make_exception(m, "QueryError", {g_chute_error, PyExc_ValueError},
                                 "A TQL query that does not parse or cannot run; .line and .column say where.");
  g_locked_error =
      make_exception(m, "DatasetLockedError", {g_io_error},
                     "Another process has the dataset open for writing; .holder_pid is its pid (0: unknown).");
  g_invalid_name = make_exception(m, "InvalidTensorNameError", {g_invalid_argument},
                                  "A tensor or group name that is empty, leaves the dataset folder, or is reserved.");
  g_resource_error = make_exception(m, "ResourceError", {g_chute_error, PyExc_MemoryError},
                                    "Memory or threads the engine needed could not be had, or a size is over its cap.");

  g_version_error = make_exception(m, "VersionControlError", {g_chute_error, PyExc_ValueError},
                                   "Version control refused an operation (branch clash, deleting the checked-out "
                                   "branch, a write at a commit that is not a branch head).");
  g_checkout_error = make_exception(m, "CheckoutError", {g_version_error},
                                    "An address that names no branch or commit, or a branch that already exists.");
  g_empty_commit_error =
      make_exception(m, "EmptyCommitError", {g_version_error}, "commit() of a head without changes.");

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const chute::QueryError& e) {
      py::object exc = make_error(g_query_error, e.what());
      exc.attr("line") = e.line();
      exc.attr("column") = e.column();
      PyErr_SetObject(g_query_error, exc.ptr());
    } catch (const chute::LockedError& e) {
      py::object exc = make_error(g_locked_error, e.what());
      exc.attr("holder_pid") = e.holder_pid();
      PyErr_SetObject(g_locked_error, exc.ptr());
    } catch (const chute::IoError& e) {
      set_error(g_io_error, e.what());
    } catch (const chute::FormatError& e) {
      set_error(g_format_error, e.what());
    } catch (const chute::DecodeError& e) {
      set_error(g_decode_error, e.what());
    } catch (const chute::InvalidNameError& e) {
      set_error(g_invalid_name, e.what());
    } catch (const chute::InvalidArgument& e) {
      set_error(g_invalid_argument, e.what());
    } catch (const chute::ResourceError& e) {
      set_error(g_resource_error, e.what());
    } catch (const chute::VersionError& e) {
      PyObject* cls = e.kind() == chute::VersionError::Kind::Checkout      ? g_checkout_error
                      : e.kind() == chute::VersionError::Kind::EmptyCommit ? g_empty_commit_error
                                                                           : g_version_error;
      set_error(cls, e.what());
    } catch (const chute::KeyError& e) {
      set_error(g_key_error, e.what());
    } catch (const chute::Error& e) {
      set_error(g_chute_error, e.what());
    } catch (const nlohmann::json::exception& e) {
      // Every engine path turns JSON errors into FormatError or InvalidArgument; one that slips
      // through is still chute's, never a bare RuntimeError.
      set_error(g_format_error, e.what());
    } catch (const std::bad_alloc&) {
      set_error(g_resource_error, "the engine ran out of memory");
    }
  });
}

}  // namespace chute::python
