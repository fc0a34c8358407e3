package dev.turbosparse.model.nn;

import ai.djl.nn.Parameter;

/** Parameters of our blocks: named by their internal name, shape and values set by the loader or initializer. */
final class Params {

    private Params() {}

    static Parameter weight(String name) {
        return Parameter.builder().setName(name).setType(Parameter.Type.WEIGHT).build();
    }

    /** A norm's scale: no weight decay applies to it. */
    static Parameter gamma(String name) {
        return Parameter.builder().setName(name).setType(Parameter.Type.GAMMA).build();
    }
}
