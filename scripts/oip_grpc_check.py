"""Drives a running Depot's Open Inference Protocol over gRPC with the real client
(tritonclient[grpc], unchanged) and checks its answers against Python onnxruntime and against
the same request over REST (tritonclient[http]). Used by the end-to-end tests (tests/e2e/grpc.rs).

Usage (DEPOT_TOKEN: a token that may predict with MODEL; the checks without one expect
UNAUTHENTICATED):
  oip_grpc_check.py model  GRPC_ADDR REST_URL MODEL VERSION ONNX_FILE
      metadata, readiness, infer (raw, as tritonclient sends, and typed contents) equal to
      onnxruntime within 1e-5, and the same bytes as REST's binary answer; VERSION may be a
      number, an alias or "" (the deployed version)
  oip_grpc_check.py errors GRPC_ADDR REST_URL MODEL VERSION ONNX_FILE
      every validation error: its gRPC code, and the same message as REST for the same request;
      DEPOT_OTHER_TOKEN (a token that may not predict with MODEL) gets PERMISSION_DENIED; with
      DEPOT_NOT_DEPLOYED set, the deployment of MODEL is NOT_FOUND
  oip_grpc_check.py overload GRPC_ADDR MODEL ONNX_FILE N
      N requests at once: some RESOURCE_EXHAUSTED, the rest answered, nothing else
  oip_grpc_check.py oversize GRPC_ADDR MODEL ONNX_FILE
      a request larger than the server's limit: OUT_OF_RANGE naming the limit
Exits non-zero (with the reason) on any mismatch.
"""

import os
import sys
import threading

import grpc
import numpy as np
import onnxruntime as ort
import tritonclient.grpc as grpcclient
import tritonclient.grpc.service_pb2 as pb
import tritonclient.grpc.service_pb2_grpc as pb_grpc
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from oip_client_check import NUMPY_TO_OIP, ORT_TO_NUMPY, sample  # this directory's REST check

# The typed contents field of each datatype, and how to read it back.
TYPED_FIELD = {
    "FP32": "fp32_contents", "FP64": "fp64_contents", "INT64": "int64_contents", "INT32": "int_contents",
    "INT16": "int_contents", "INT8": "int_contents", "UINT8": "uint_contents", "BOOL": "bool_contents",
    "BYTES": "bytes_contents",
}
OIP_TO_NUMPY = {v: k for k, v in NUMPY_TO_OIP.items()}


def session_and_feeds(onnx_file):
    session = ort.InferenceSession(onnx_file, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(7)
    feeds = {i.name: sample(i.shape, ORT_TO_NUMPY[i.type], rng) for i in session.get_inputs()}
    expected = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
    return session, feeds, expected


def same(got, want, name):
    if want.dtype.kind in "fc":
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=name)
    elif want.dtype == np.object_:
        assert [g.decode() if isinstance(g, bytes) else g for g in got.ravel()] == [
            w.decode() if isinstance(w, bytes) else w for w in want.ravel()
        ], name
    else:
        np.testing.assert_array_equal(got, want, err_msg=name)


def auth():
    token = os.environ.get("DEPOT_TOKEN")
    return {"authorization": f"Bearer {token}"} if token else None


def client_inputs(module, feeds):
    """The feeds as `module`'s (tritonclient.grpc or .http) inputs, binary/raw as it sends them."""
    inputs = []
    for name, value in feeds.items():
        tensor = module.InferInput(name, list(value.shape), NUMPY_TO_OIP[value.dtype.type])
        tensor.set_data_from_numpy(value)
        inputs.append(tensor)
    return inputs


def grpc_inputs(feeds):
    return client_inputs(grpcclient, feeds)


def http_inputs(feeds):
    return client_inputs(httpclient, feeds)


def expect_error(call, code, contains=None):
    try:
        call()
    except InferenceServerException as error:
        assert error.status() == f"StatusCode.{code}", f"expected {code}, got {error.status()}: {error.message()}"
        if contains is not None:
            assert contains in error.message(), f"{contains!r} not in {error.message()!r}"
        return error.message()
    raise AssertionError(f"expected {code}, but the call succeeded")


def typed_request(model, version, feeds):
    request = pb.ModelInferRequest(model_name=model, model_version=version, id="typed-1")
    for name, value in feeds.items():
        datatype = NUMPY_TO_OIP[value.dtype.type]
        tensor = request.inputs.add(name=name, datatype=datatype, shape=list(value.shape))
        field = getattr(tensor.contents, TYPED_FIELD[datatype])
        field.extend(value.ravel().tolist())
    return request


def check_model(grpc_addr, rest_url, model, version, onnx_file):
    _, feeds, expected = session_and_feeds(onnx_file)
    client = grpcclient.InferenceServerClient(url=grpc_addr)
    headers = auth()
    assert client.is_server_live(), "server not live"
    assert client.is_server_ready(), "server not ready"
    server = client.get_server_metadata()
    assert server.name == "depot", server
    # Without a token the model calls are refused.
    expect_error(lambda: client.get_model_metadata(model, version), "UNAUTHENTICATED", "token")
    assert client.is_model_ready(model, version, headers=headers), "model not ready"
    metadata = client.get_model_metadata(model, version, headers=headers)
    assert metadata.name == model, metadata
    assert [i.name for i in metadata.inputs] == list(feeds), metadata
    assert [o.name for o in metadata.outputs] == list(expected), metadata
    if version.isdigit():
        assert list(metadata.versions) == [version], metadata

    # Raw tensors, as tritonclient sends them, all outputs and a chosen subset.
    result = client.infer(model, grpc_inputs(feeds), model_version=version, headers=headers, request_id="r-1")
    response = result.get_response()
    assert response.id == "r-1", response.id
    for name, want in expected.items():
        same(result.as_numpy(name), want, name)
    first = next(iter(expected))
    chosen = client.infer(model, grpc_inputs(feeds), model_version=version, headers=headers,
                          outputs=[grpcclient.InferRequestedOutput(first)])
    assert [o.name for o in chosen.get_response().outputs] == [first], chosen.get_response().outputs

    # The same request over REST (binary tensors): the same bytes.
    rest = httpclient.InferenceServerClient(url=rest_url.removeprefix("http://"))
    # (tritonclient.http adds its own headers to the dict it is given: a copy each time.)
    rest_result = rest.infer(model, http_inputs(feeds), model_version=version, headers=dict(headers or {}))
    for name in expected:
        g, r = result.as_numpy(name), rest_result.as_numpy(name)
        assert g.dtype == r.dtype and g.shape == r.shape, (name, g.dtype, r.dtype, g.shape, r.shape)
        if g.dtype == np.object_:
            assert list(g.ravel()) == list(r.ravel()), name
        else:
            assert g.tobytes() == r.tobytes(), f"{name}: gRPC and REST answers differ"
    served = rest_result.get_response()["model_version"]
    assert response.model_version == served, (response.model_version, served)

    # Typed contents: the answer is typed too, with the same values.
    channel = grpc.insecure_channel(grpc_addr)
    stub = pb_grpc.GRPCInferenceServiceStub(channel)
    caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    answer, call = stub.ModelInfer.with_call(typed_request(model, version, feeds),
                                             metadata=list((headers or {}).items()) + [("traceparent", caller),
                                                                                     ("x-request-id", "typed-req")])
    assert len(answer.raw_output_contents) == 0, "a typed request got raw outputs"
    assert answer.id == "typed-1", answer.id
    trailing = dict(call.initial_metadata())
    assert trailing.get("depot-served-by") == f"{model}/{served}", trailing
    # The caller's trace is continued with a span of the call's own, and its request id kept.
    assert trailing.get("traceparent", "").startswith(caller[:36]), trailing
    assert trailing.get("traceparent") != caller, trailing
    assert trailing.get("x-request-id") == "typed-req", trailing
    for output in answer.outputs:
        want = expected[output.name]
        values = list(getattr(output.contents, TYPED_FIELD[output.datatype]))
        got = np.array(values, dtype=OIP_TO_NUMPY[output.datatype]).reshape(list(output.shape))
        same(got, want, output.name)
    print(f"ok: {model}/{version or '(deployed)'} over gRPC, raw and typed, {len(feeds)} inputs, {len(expected)} outputs")


def check_errors(grpc_addr, rest_url, model, version, onnx_file):
    _, feeds, expected = session_and_feeds(onnx_file)
    client = grpcclient.InferenceServerClient(url=grpc_addr)
    rest = httpclient.InferenceServerClient(url=rest_url.removeprefix("http://"))
    headers = auth()
    name, value = next(iter(feeds.items()))
    datatype = NUMPY_TO_OIP[value.dtype.type]

    def both(grpc_inputs_, http_inputs_, code, contains, outputs=None, http_outputs=None):
        """The same request over gRPC and REST: the given code, and the same message."""
        message = expect_error(lambda: client.infer(model, grpc_inputs_, model_version=version, headers=headers,
                                                    outputs=outputs), code, contains)
        try:
            rest.infer(model, http_inputs_, model_version=version, headers=dict(headers or {}), outputs=http_outputs)
        except InferenceServerException as error:
            assert error.message() == message, f"REST says {error.message()!r}, gRPC {message!r}"
        else:
            raise AssertionError("REST accepted what gRPC refused")

    def one(cls, input_name, shape, dtype, array):
        tensor = cls.InferInput(input_name, shape, dtype)
        tensor.set_data_from_numpy(array)
        return tensor

    # An input the model does not have.
    stray = np.zeros([1], dtype=np.float32)
    both([one(grpcclient, "no_such_input", [1], "FP32", stray)],
         [one(httpclient, "no_such_input", [1], "FP32", stray)], "INVALID_ARGUMENT", "no_such_input")
    # The wrong datatype.
    wrong = value.astype(np.float64) if datatype != "FP64" else value.astype(np.float32)
    wrong_type = NUMPY_TO_OIP[wrong.dtype.type]
    both([one(grpcclient, name, list(value.shape), wrong_type, wrong)],
         [one(httpclient, name, list(value.shape), wrong_type, wrong)], "INVALID_ARGUMENT", name)
    # A shape the model refuses (one extra dimension).
    deeper = value.reshape([1] + list(value.shape))
    both([one(grpcclient, name, list(deeper.shape), datatype, deeper)],
         [one(httpclient, name, list(deeper.shape), datatype, deeper)], "INVALID_ARGUMENT", name)
    # An output the model does not have.
    both(grpc_inputs(feeds), http_inputs(feeds), "INVALID_ARGUMENT", "no_such_output",
         outputs=[grpcclient.InferRequestedOutput("no_such_output")],
         http_outputs=[httpclient.InferRequestedOutput("no_such_output")])
    # Inputs missing.
    if len(feeds) > 1:
        rest_of = dict(list(feeds.items())[1:])
        both(grpc_inputs(rest_of), http_inputs(rest_of), "INVALID_ARGUMENT", name)

    # What only the gRPC encoding can get wrong, through the raw stub.
    stub = pb_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(grpc_addr))
    metadata = list((headers or {}).items())

    def raw_call(request, code, contains):
        try:
            stub.ModelInfer(request, metadata=metadata)
        except grpc.RpcError as error:
            assert error.code().name == code, f"expected {code}, got {error.code()}: {error.details()}"
            assert contains in error.details(), f"{contains!r} not in {error.details()!r}"
            codes = dict(error.trailing_metadata() or [])
            assert "depot-error-code" in codes, codes
            return
        raise AssertionError(f"expected {code}, but the call succeeded")

    request = typed_request(model, version, feeds)
    request.raw_input_contents.append(value.tobytes())
    raw_call(request, "INVALID_ARGUMENT", "raw_input_contents")  # typed and raw at once
    request = pb.ModelInferRequest(model_name=model, model_version=version)
    request.inputs.add(name=name, datatype=datatype, shape=list(value.shape))
    raw_call(request, "INVALID_ARGUMENT", "no contents")
    if datatype != "BYTES":
        request.raw_input_contents.append(value.tobytes()[:-1])
        raw_call(request, "INVALID_ARGUMENT", "raw_input_contents entry")  # one byte short
        request = pb.ModelInferRequest(model_name=model, model_version=version)
        request.inputs.add(name=name, datatype=datatype, shape=list(value.shape))
        request.raw_input_contents.extend([value.tobytes(), value.tobytes()])
        raw_call(request, "INVALID_ARGUMENT", "raw_input_contents entries")  # two entries, one input
        request = pb.ModelInferRequest(model_name=model, model_version=version)
        tensor = request.inputs.add(name=name, datatype=datatype, shape=list(value.shape))
        wrong_field = "bytes_contents"
        getattr(tensor.contents, wrong_field).extend([b"x"] * value.size)
        raw_call(request, "INVALID_ARGUMENT", "contents.bytes_contents")

    # Names and versions.
    expect_error(lambda: client.infer("no-such-model", grpc_inputs(feeds), headers=headers), "NOT_FOUND", "no-such-model")
    expect_error(lambda: client.infer("Bad Name!", grpc_inputs(feeds), headers=headers), "INVALID_ARGUMENT")
    expect_error(lambda: client.infer(model, grpc_inputs(feeds), model_version="no-such-alias", headers=headers),
                 "NOT_FOUND", "no-such-alias")
    expect_error(lambda: client.infer(model, grpc_inputs(feeds), model_version="99", headers=headers), "NOT_FOUND")
    if os.environ.get("DEPOT_NOT_DEPLOYED"):
        expect_error(lambda: client.infer(model, grpc_inputs(feeds), headers=headers), "NOT_FOUND", "not deployed")
    expect_error(lambda: client.get_model_metadata("no-such-model", headers=headers), "NOT_FOUND")
    expect_error(lambda: client.is_model_ready("no-such-model", headers=headers), "NOT_FOUND")
    # Tokens.
    expect_error(lambda: client.infer(model, grpc_inputs(feeds), model_version=version), "UNAUTHENTICATED", "token")
    expect_error(lambda: client.infer(model, grpc_inputs(feeds), model_version=version,
                                      headers={"authorization": "Bearer depot_not_a_token"}), "UNAUTHENTICATED")
    other = os.environ.get("DEPOT_OTHER_TOKEN")
    if other:
        expect_error(lambda: client.infer(model, grpc_inputs(feeds), model_version=version,
                                          headers={"authorization": f"Bearer {other}"}), "PERMISSION_DENIED", model)
    print(f"ok: every error of {model}/{version} over gRPC, with REST's messages")


def check_overload(grpc_addr, model, onnx_file, count):
    _, feeds, _ = session_and_feeds(onnx_file)
    # 256 rows (the model's leading dimension is dynamic): each run holds the session for
    # milliseconds, so the calls that follow queue. With one row a fast CPU could finish each run
    # before the next call arrived, and nothing would be refused.
    feeds = {name: np.repeat(value, 256, axis=0) for name, value in feeds.items()}
    client = grpcclient.InferenceServerClient(url=grpc_addr)
    headers = auth()
    outcomes, done = [], threading.Semaphore(0)

    def callback(result, error):
        outcomes.append("OK" if error is None else error.status())
        done.release()

    for _ in range(count):
        client.async_infer(model, grpc_inputs(feeds), callback, model_version="1", headers=headers)
    for _ in range(count):
        assert done.acquire(timeout=60), "a request never finished"
    exhausted = outcomes.count("StatusCode.RESOURCE_EXHAUSTED")
    answered = outcomes.count("OK")
    others = [o for o in outcomes if o not in ("OK", "StatusCode.RESOURCE_EXHAUSTED")]
    assert not others, f"unexpected outcomes: {others}"
    assert exhausted > 0, f"no request was refused with RESOURCE_EXHAUSTED ({answered} answered)"
    assert answered > 0, "no request was answered"
    print(f"ok: {answered} answered, {exhausted} RESOURCE_EXHAUSTED, nothing else")


def check_oversize(grpc_addr, model, onnx_file):
    _, feeds, _ = session_and_feeds(onnx_file)
    client = grpcclient.InferenceServerClient(url=grpc_addr)
    expect_error(lambda: client.infer(model, grpc_inputs(feeds), model_version="1", headers=auth()),
                 "OUT_OF_RANGE", "too large")
    print("ok: a message over the limit is OUT_OF_RANGE")


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "model":
        check_model(*args)
    elif mode == "errors":
        check_errors(*args)
    elif mode == "overload":
        check_overload(args[0], args[1], args[2], int(args[3]))
    elif mode == "oversize":
        check_oversize(*args)
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
