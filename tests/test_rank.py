"""Ranking: keyword and seed contributions, boosts, exclusions, deterministic order."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from digest.config import Profile
from digest.models import Paper
from digest.rank import Ranker

DAY = date(2026, 11, 20)


def make(arxiv_id: str, title: str, abstract: str, *, authors: tuple[str, ...] = ("A. Author",),
         categories: tuple[str, ...] = ("cs.CL",)) -> Paper:
    return Paper(title=title, abstract=abstract, authors=authors, categories=categories,
                 announced=DAY, arxiv_id=arxiv_id)


RAG = make("2611.00001", "Retrieval-augmented generation with citation checks",
           "We ground answers of language models in retrieved passages and verify citations.")
JUDGE = make("2611.00002", "Calibrating LLM judges",
             "Language models used as judges disagree with humans; we calibrate them.")
ROBOT = make("2611.00003", "Legged locomotion from scratch",
             "A quadruped learns to walk with reinforcement learning in simulation.",
             authors=("Sören Falk", "B. Builder"), categories=("cs.RO", "cs.LG"))
GALAXY = make("2611.00004", "Bars drive gas inflow in spiral galaxies",
              "Simulations of barred galaxies show inflow towards the centre.",
              categories=("astro-ph.GA",))
CORPUS = [RAG, JUDGE, ROBOT, GALAXY]


def profile(**settings: object) -> Profile:
    return Profile.model_validate(
        {"interests": [{"name": "RAG", "keywords": ["retrieval-augmented generation", "citation"]}],
         **settings})


def test_keyword_matches_rank_first_and_say_why() -> None:
    ranked = Ranker.fit(CORPUS).rank(profile(), CORPUS, seeds={})
    assert ranked[0].paper == RAG
    assert ranked[0].interest == "RAG"
    texts = [reason.text for reason in ranked[0].reasons]
    assert any("citation" in text for text in texts)
    assert any("retrieval-augmented generation" in text for text in texts)


def test_the_score_is_the_sum_of_the_reasons_shown() -> None:
    ranked = Ranker.fit(CORPUS).rank(profile(authors=["Sören Falk"],
                                             categories={"boost": {"cs.CL": 0.1}}),
                                     CORPUS, seeds={})
    for item in ranked:
        assert abs(item.score - sum(reason.weight for reason in item.reasons)) < 1e-6


def test_seed_similarity_names_the_seed() -> None:
    seed = make("2501.00009", "Citation verification for retrieval-augmented generation",
                "Checking that retrieved passages support the generated citations.")
    settings = Profile.model_validate({"interests": [{"name": "RAG", "seeds": ["2501.00009"]}]})
    ranked = Ranker.fit([*CORPUS, seed]).rank(settings, CORPUS, seeds={"2501.00009": seed})
    assert ranked[0].paper == RAG
    assert any(r.kind == "seed" and "2501.00009" in r.text for r in ranked[0].reasons)


def test_a_seed_written_twice_counts_once() -> None:
    seeds = {"2611.00001": RAG, "2611.00003": ROBOT}

    def ranking(written: list[str]) -> list[tuple[str, float, tuple[str, ...]]]:
        settings = Profile.model_validate({"interests": [{"name": "mix", "seeds": written}]})
        return [(r.paper.key, r.score, tuple(x.text for x in r.reasons))
                for r in Ranker.fit(CORPUS).rank(settings, CORPUS, seeds=seeds)]

    once = ranking(["2611.00001", "2611.00003"])
    assert ranking(["2611.00001", "arXiv:2611.00001v2", "2611.00003"]) == once


def test_author_boost_matches_names_regardless_of_accents() -> None:
    ranked = Ranker.fit(CORPUS).rank(profile(authors=["Soren Falk"]), CORPUS, seeds={})
    robot = next(r for r in ranked if r.paper == ROBOT)
    assert [reason.text for reason in robot.reasons] == ["author: Soren Falk"]
    assert robot.score == 0.2


def test_exclude_and_category_filter_take_papers_out_with_a_reason() -> None:
    settings = profile(exclude=["language models used as judges"],
                       categories={"only": ["cs.CL"]})
    ranker = Ranker.fit(CORPUS)
    ranked = ranker.rank(settings, CORPUS, seeds={})
    judge = next(r for r in ranked if r.paper == JUDGE)
    galaxy = next(r for r in ranked if r.paper == GALAXY)
    assert judge.score == 0 and judge.reasons[0].kind == "exclude"
    assert galaxy.score == 0 and galaxy.reasons[0].kind == "filter"
    chosen = ranker.select_for_edition(ranked, settings)
    assert [r.paper for r in chosen] == [RAG]


def test_order_is_deterministic_with_ties_broken_by_id() -> None:
    ranker = Ranker.fit(CORPUS)
    first = ranker.rank(profile(), list(reversed(CORPUS)), seeds={})
    second = ranker.rank(profile(), CORPUS, seeds={})
    assert [r.paper.key for r in first] == [r.paper.key for r in second]
    zero = [r.paper.key for r in first if r.score == 0]
    assert zero == sorted(zero)


def test_min_score_and_max_papers_limit_the_edition() -> None:
    settings = profile(min_score=0.0001, max_papers=1,
                       interests=[{"name": "Any", "keywords": ["language models"]}])
    ranker = Ranker.fit(CORPUS)
    ranked = ranker.rank(settings, CORPUS, seeds={})
    assert len([r for r in ranked if r.score > 0]) >= 2
    assert len(ranker.select_for_edition(ranked, settings)) == 1


def test_empty_candidates_and_empty_corpus() -> None:
    assert Ranker.fit([]).rank(profile(), [], seeds={}) == []
    assert Ranker.fit([]).rank(profile(), [RAG], seeds={})[0].score == 0


def test_one_word_of_a_phrase_is_not_a_match() -> None:
    plasma = make("2611.00005", "Atoms in dense plasmas", "Spectra of atoms in dense plasmas.")
    apart = make("2611.00006", "Retrieval for dense passages",
                 "Dense encoders help retrieval of passages.")
    settings = Profile.model_validate(
        {"interests": [{"name": "IR", "keywords": ["dense retrieval"]}]})
    ranked = Ranker.fit([*CORPUS, plasma, apart]).rank(settings, [plasma, apart], seeds={})
    by_id = {r.paper.arxiv_id: r for r in ranked}
    assert by_id["2611.00005"].score == 0
    assert [r.text for r in by_id["2611.00006"].reasons] == ["words of “dense retrieval”"]


def test_plurals_match_their_singular_keyword() -> None:
    ranked = Ranker.fit(CORPUS).rank(
        Profile.model_validate({"interests": [{"name": "Astro", "keywords": ["galaxy"]}]}),
        CORPUS, seeds={})
    assert ranked[0].paper == GALAXY
    assert ranked[0].reasons[0].text == "matched “galaxy”"


def test_keywords_with_words_no_paper_uses_are_named_with_those_words() -> None:
    settings = Profile.model_validate({"interests": [
        {"name": "Astro", "keywords": ["Galaxies", "galaxy zoo", "Math", "the of"]},
        {"name": "RAG", "keywords": ["citation", "Math"]},
    ]})
    ranker = Ranker.fit(CORPUS)
    # Plurals fold ("Galaxies"), a phrase needs each word ("zoo"), a keyword written twice
    # is named once; stop words alone are `digest check`'s to report.
    assert ranker.unused_words(settings) == {"galaxy zoo": ["zoo"], "Math": ["math"]}
    assert all(r.score == 0 for r in ranker.rank(
        Profile.model_validate({"interests": [{"name": "M", "keywords": ["Math"]}]}),
        CORPUS, seeds={}))


def test_a_category_boost_alone_does_not_put_a_paper_in_the_edition() -> None:
    settings = profile(categories={"boost": {"astro-ph.GA": 0.5}}, authors=["Sören Falk"])
    ranker = Ranker.fit(CORPUS)
    ranked = ranker.rank(settings, CORPUS, seeds={})
    chosen = {r.paper.arxiv_id for r in ranker.select_for_edition(ranked, settings)}
    assert GALAXY.arxiv_id not in chosen  # boosted, but matches no interest
    assert ROBOT.arxiv_id in chosen  # an author you follow is reason enough
    assert RAG.arxiv_id in chosen


def test_a_corpus_without_usable_words_still_ranks() -> None:
    tiny = make("2611.00007", "A", "")
    assert Ranker.fit([tiny]).rank(profile(), [tiny], seeds={})[0].score == 0


# --- feedback, diversity, popularity --------------------------------------------------------

AGENT = make("2611.00011", "Tool-using language model agents",
             "Agents built on language models call tools and browse the web.")
AGENT_TWIN = make("2611.00012", "Tool-using language model agents: the dataset",
                  "Agents built on language models call tools and browse the web; the data.")
EVAL = make("2611.00013", "Evaluating language model agents",
            "A benchmark for agents that use tools, with language models as judges.")
LM_CORPUS = [*CORPUS, AGENT, AGENT_TWIN, EVAL]


def lm_profile(**settings: object) -> Profile:
    return Profile.model_validate(
        {"interests": [{"name": "LM", "keywords": ["language models"]}], **settings})


def test_feedback_labels_move_liked_topics_up_and_say_which_words() -> None:
    ranker = Ranker.fit(LM_CORPUS)
    before = ranker.rank(lm_profile(), LM_CORPUS, seeds={})
    liked = [(AGENT, 1), (EVAL, 1), (JUDGE, -1)]
    after = ranker.rank(lm_profile(), LM_CORPUS, seeds={}, feedback=liked)
    twin = next(r for r in after if r.paper == AGENT_TWIN)
    assert twin.score > next(r for r in before if r.paper == AGENT_TWIN).score
    learnt = [reason for reason in twin.reasons if reason.kind == "feedback"]
    assert learnt and learnt[0].weight > 0 and learnt[0].text.startswith("your feedback favours")
    judge = next(r for r in after if r.paper == JUDGE)
    assert judge.score < next(r for r in before if r.paper == JUDGE).score
    for item in after:
        assert abs(item.score - sum(reason.weight for reason in item.reasons)) < 1e-5


def test_two_labels_are_not_yet_a_model() -> None:
    ranker = Ranker.fit(LM_CORPUS)
    ranked = ranker.rank(lm_profile(), LM_CORPUS, seeds={}, feedback=[(AGENT, 1), (EVAL, 1)])
    assert not any(reason.kind == "feedback" for r in ranked for reason in r.reasons)


def test_an_edition_drops_near_duplicates() -> None:
    ranker = Ranker.fit(LM_CORPUS)
    settings = Profile.model_validate({"interests": [{"name": "Agents", "keywords": ["agents"]}],
                                       "min_score": 0})
    chosen = ranker.select_for_edition(ranker.rank(settings, LM_CORPUS, seeds={}), settings)
    keys = {r.paper.key for r in chosen}
    assert len(keys & {AGENT.key, AGENT_TWIN.key}) == 1
    assert EVAL.key in keys


def test_each_interest_gets_a_fair_share_of_a_short_edition() -> None:
    settings = Profile.model_validate({
        "interests": [{"name": "LM", "keywords": ["language models", "agents", "tools"]},
                      {"name": "Robots", "keywords": ["quadruped"]}],
        "max_papers": 2, "min_score": 0,
    })
    ranker = Ranker.fit(LM_CORPUS)
    ranked = ranker.rank(settings, LM_CORPUS, seeds={})
    assert [r.interest for r in ranked[:2]] == ["LM", "LM"]  # by score alone, no robots
    chosen = ranker.select_for_edition(ranked, settings)
    assert sorted(r.interest for r in chosen) == ["LM", "Robots"]


def test_upvotes_count_only_when_the_profile_asks() -> None:
    popular = replace(make("2611.00014", "Language models that plan",
                           "Language models plan steps."), upvotes=120)
    ranker = Ranker.fit([*LM_CORPUS, popular])
    plain = ranker.rank(lm_profile(), [popular], seeds={})[0]
    boosted = ranker.rank(lm_profile(upvote_weight=0.5), [popular], seeds={})[0]
    assert not any(reason.kind == "popular" for reason in plain.reasons)
    assert ("popular", "120 upvotes on Hugging Face", 0.5) in [
        (r.kind, r.text, round(r.weight, 6)) for r in boosted.reasons]
    assert abs(boosted.score - plain.score - 0.5) < 1e-6


def _invented_corpus() -> list[Paper]:
    """250 invented papers: 200 on images, 50 on robots (also listed in cs.RO)."""
    vision = ["segmentation", "pixels", "image", "detector", "camera", "texture", "masks",
              "depth", "video", "frames", "recognition", "photos"]
    robots = ["gripper", "manipulation", "grasping", "locomotion", "actuators", "joints",
              "trajectory", "controller", "legged", "arms", "torque", "embodied"]
    papers = []
    for number in range(250):
        robot = number % 5 == 0
        words = robots if robot else vision
        picked = [words[(number * k) % len(words)] for k in (1, 3, 5, 7)]
        papers.append(make(f"2610.{number:05d}", f"{picked[0].title()} and {picked[1]}",
                           f"We study {' '.join(picked)} with {picked[2]} {picked[3]}.",
                           categories=("cs.CV", "cs.RO") if robot else ("cs.CV",)))
    return papers


def test_seeds_sharing_a_rare_category_bring_in_its_stored_papers() -> None:
    corpus = _invented_corpus()
    seeds = {p.arxiv_id: p for p in corpus if "cs.RO" in p.categories}
    chosen = list(seeds)[:6]
    settings = Profile.model_validate({"interests": [{"name": "Robots", "seeds": chosen}]})
    candidate = make("2611.00020", "Legged arms", "Torque control for legged arms.",
                     categories=("cs.CV",))
    ranked = Ranker.fit([*corpus, candidate]).rank(settings, [candidate], seeds=seeds)[0]
    neighbours = [r for r in ranked.reasons if r.text.startswith("like stored")]
    assert [(r.kind, r.text) for r in neighbours] == [
        ("seed", "like stored cs.RO papers, as your seeds are")]
    assert abs(ranked.score - sum(r.weight for r in ranked.reasons)) < 1e-6


def test_a_candidates_own_categories_do_not_change_its_score() -> None:
    corpus = _invented_corpus()
    seeds = {p.arxiv_id: p for p in corpus if "cs.RO" in p.categories}
    settings = Profile.model_validate(
        {"interests": [{"name": "Robots", "seeds": list(seeds)[:6], "keywords": ["torque"]}]})
    text = ("Legged arms", "Torque control for legged arms.")
    plain = make("2611.00021", *text, categories=("cs.CV",))
    listed = make("2611.00022", *text, categories=("cs.CV", "cs.RO"))
    ranker = Ranker.fit([*corpus, plain, listed])
    scores = {r.paper.arxiv_id: r.score
              for r in ranker.rank(settings, [plain, listed], seeds=seeds)}
    assert scores["2611.00021"] == scores["2611.00022"] > 0


def test_without_seeds_the_stored_papers_that_use_a_keyword_stand_in_for_them() -> None:
    corpus = _invented_corpus()  # fifty stored robot papers, some of them on torque
    settings = Profile.model_validate({"interests": [{"name": "Robots", "keywords": ["torque"],
                                                      "seeds": ["2401.00001"]}]})  # unknown
    alike = make("2611.00030", "Legged grippers", "Grasping with legged arms and joints.")
    other = make("2611.00031", "Texture in photos", "Pixels and masks of photos.")
    ranked = {r.paper.arxiv_id: r for r in Ranker.fit([*corpus, alike, other]).rank(
        settings, [alike, other], seeds={})}
    reasons = ranked["2611.00030"].reasons
    assert [(r.kind, r.text) for r in reasons] == [
        ("keyword", "like stored papers that use “torque”")]
    assert ranked["2611.00030"].score == reasons[0].weight > ranked["2611.00031"].score
    seeded = Profile.model_validate({"interests": [{"name": "Robots", "keywords": ["torque"],
                                                    "seeds": [corpus[0].arxiv_id]}]})
    with_seed = Ranker.fit([*corpus, alike]).rank(seeded, [alike],
                                                  seeds={corpus[0].arxiv_id: corpus[0]})
    assert not any("use “torque”" in reason.text for reason in with_seed[0].reasons)


def test_a_candidate_never_vouches_for_itself_through_its_keywords() -> None:
    using = [make(f"2611.5{n:04d}", f"Torque sensing {n}", f"Torque sensors in joints {n}.")
             for n in range(7)]
    settings = Profile.model_validate({"interests": [{"name": "Robots",
                                                      "keywords": ["torque"]}]})
    ranker = Ranker.fit(using)

    def stand_ins(candidates: list[Paper]) -> list[str]:
        return [reason.text for item in ranker.rank(settings, candidates, seeds={})
                for reason in item.reasons if reason.text.startswith("like stored")]

    assert stand_ins(using[:4]) == ["like stored papers that use “torque”"] * 4  # 3 others
    assert stand_ins(using[:5]) == []  # 2 others are too few; the candidates do not count
    assert stand_ins(using) == []


def test_the_stand_ins_come_from_the_whole_store_and_name_the_keywords_that_found_them(
) -> None:
    # 300 stored papers use "torque": the newest 200 on grippers, the oldest 100 on galaxies
    # (the store lists its newest papers first). A sample of 200 must reach the galaxies.
    grippers = [make(f"2610.{n:05d}", f"Torque in grippers {n}",
                     f"Gripper fingers apply torque {n}.") for n in range(200)]
    galaxies = [make(f"2609.{n:05d}", f"Torque on galaxies {n}",
                     f"Tidal torque spins up dwarf galaxies {n}.") for n in range(100)]
    candidate = make("2611.00040", "Spin of dwarf galaxies", "Tidal forces spin galaxies up.")
    settings = Profile.model_validate({"interests": [{"name": "Torque",
                                                      "keywords": ["torque", "xylophone"]}]})
    ranked = Ranker.fit([*grippers, *galaxies, candidate]).rank(settings, [candidate], seeds={})
    assert [(r.kind, r.text) for r in ranked[0].reasons] == [
        ("keyword", "like stored papers that use “torque”")]  # no stored paper has the other
    assert ranked[0].score > 0


def _papers(prefix: str, count: int, title: str, abstract: str) -> list[Paper]:
    return [make(f"2611.{prefix}{n:03d}", f"{title} {n}", f"{abstract} Variant {n}.")
            for n in range(count)]


def test_a_cut_ranking_still_holds_every_interests_best_papers() -> None:
    alpha = _papers("1", 20, "Language models and agents", "Language models act as agents.")
    beta = make("2611.20000", "Quadruped gaits", "A quadruped walks.")
    settings = Profile.model_validate({
        "interests": [{"name": "LM", "keywords": ["language models", "agents"]},
                      {"name": "Robots", "keywords": ["quadruped"]}],
        "max_papers": 2, "min_score": 0,
    })
    ranker = Ranker.fit([*alpha, beta])
    ranked = ranker.rank(settings, [*alpha, beta], seeds={}, limit=3)
    chosen = ranker.select_for_edition(ranked, settings)
    assert sorted(r.interest for r in chosen) == ["LM", "Robots"]


def test_papers_matching_only_an_author_take_no_interests_share() -> None:
    alpha = _papers("2", 3, "Language models and agents", "Language models act as agents.")
    beta = make("2611.30000", "Quadruped gaits", "A quadruped walks.")
    by_author = [make(f"2611.3100{n}", f"Dense plasmas {n}", "Spectra of atoms.",
                      authors=("Sören Falk",)) for n in range(2)]
    settings = Profile.model_validate({
        "interests": [{"name": "LM", "keywords": ["language models"]},
                      {"name": "Robots", "keywords": ["quadruped"]}],
        "authors": ["Sören Falk"], "author_boost": 5, "max_papers": 4, "min_score": 0,
    })
    papers = [*alpha, beta, *by_author]
    ranker = Ranker.fit(papers)
    chosen = ranker.select_for_edition(ranker.rank(settings, papers, seeds={}), settings)
    assert {r.interest for r in chosen} >= {"LM", "Robots"}


def test_candidates_categories_do_not_decide_whether_neighbours_count() -> None:
    corpus = _invented_corpus()
    seeds = {p.arxiv_id: p for p in corpus if "cs.RO" in p.categories}
    settings = Profile.model_validate({"interests": [{"name": "Robots",
                                                      "seeds": list(seeds)[:6]}]})
    scores = []
    for categories in (("cs.CV",), ("cs.CV", "cs.RO")):
        new = [make(f"2611.4{n:04d}", f"Legged arms {n}", "Torque control for legged arms.",
                    categories=categories) for n in range(60)]
        ranker = Ranker.fit([*corpus, *new])
        scores.append([r.score for r in ranker.rank(settings, new, seeds=seeds)])
    assert scores[0] == scores[1]


MATHS = make("2611.00061", "Mathematical limits of attention",
             "We prove bounds for transformers.")
LEARNERS = make("2611.00062", "Reinforcement learners that share",
                "Agents with reinforcement learning share rewards.")
APART = make("2611.00063", "Learning from rewards", "A reinforcement signal guides the agent.")
BIAS = make("2611.00064", "Bias in hiring models", "We measure the bias of a ranking model.")
SURVEYS = make("2611.00065", "Surveying hiring models", "A review of ranking models.")
WILD = [MATHS, LEARNERS, APART, BIAS, SURVEYS, RAG, GALAXY]


def _keyword_profile(*keywords: str, exclude: tuple[str, ...] = ()) -> Profile:
    return Profile.model_validate({"interests": [{"name": "K", "keywords": list(keywords)}],
                                   "exclude": list(exclude)})


def test_a_wildcard_finds_every_word_that_begins_with_it_and_says_which() -> None:
    ranked = {r.paper.arxiv_id: r for r in Ranker.fit(WILD).rank(
        _keyword_profile("math*", "bias*"), WILD, seeds={})}
    assert [r.text for r in ranked["2611.00061"].reasons] == ["matched “math*” (mathematical)"]
    # "bias" is kept as "bia" (plurals fold), yet "bias*" finds it and names it as written.
    assert [r.text for r in ranked["2611.00064"].reasons] == ["matched “bias*” (bias)"]
    assert {key for key, r in ranked.items() if r.score > 0} == {"2611.00061", "2611.00064"}


def test_a_wildcard_keyword_scores_as_the_word_the_paper_uses_would() -> None:
    ranker = Ranker.fit(WILD)
    wild = ranker.rank(_keyword_profile("math*"), [MATHS], seeds={})[0]
    plain = ranker.rank(_keyword_profile("mathematical"), [MATHS], seeds={})[0]
    assert wild.score == plain.score > 0


def test_a_wildcard_phrase_counts_whole_as_a_phrase_and_half_apart() -> None:
    ranked = {r.paper.arxiv_id: r for r in Ranker.fit(WILD).rank(
        _keyword_profile("reinforcement learn*"), WILD, seeds={})}
    assert [r.text for r in ranked["2611.00062"].reasons] == [
        "matched “reinforcement learn*” (learners)"]
    assert [r.text for r in ranked["2611.00063"].reasons] == [
        "words of “reinforcement learn*” (learning)"]
    assert ranked["2611.00062"].score > ranked["2611.00063"].score > 0
    assert ranked["2611.00061"].score == 0


def test_a_wildcard_exclude_term_takes_out_every_form() -> None:
    ranked = {r.paper.arxiv_id: r for r in Ranker.fit(WILD).rank(
        _keyword_profile("hiring", exclude=("survey*",)), WILD, seeds={})}
    assert ranked["2611.00065"].score == 0
    assert [r.text for r in ranked["2611.00065"].reasons] == ["excluded: mentions “survey*”"]
    assert ranked["2611.00064"].score > 0


def test_a_wildcard_that_begins_no_known_word_is_named_and_counts_nothing() -> None:
    ranker = Ranker.fit(WILD)
    assert ranker.unused_words(_keyword_profile("zoo*", "reinforcement zoo*")) == {
        "zoo*": ["zoo*"], "reinforcement zoo*": ["zoo*"]}
    assert all(r.score == 0 for r in ranker.rank(_keyword_profile("zoo*"), WILD, seeds={}))


def test_a_wildcard_finds_the_stored_papers_that_stand_in_for_seeds() -> None:
    corpus = _invented_corpus()  # fifty stored robot papers, some of them on torque
    alike = make("2611.00030", "Legged grippers", "Grasping with legged arms and joints.")
    ranked = Ranker.fit([*corpus, alike]).rank(_keyword_profile("torq*"), [alike], seeds={})
    assert [(r.kind, r.text) for r in ranked[0].reasons] == [
        ("keyword", "like stored papers that use “torq*”")]


def test_a_wildcard_reason_names_the_form_that_scored_and_takes_its_label() -> None:
    # "learn" comes first in the paper, but "reinforcement learners" is the phrase that
    # scores; "learnability" is further from "reinforcement" than "learning" is.
    early = make("2611.00066", "We learn from learners",
                 "Reinforcement learners beat the rest.")
    apart = make("2611.00067", "Reinforcement learning and learnability",
                 "Learnability of reinforcement policies is studied.")
    ranker = Ranker.fit([*WILD, early, apart])
    settings = _keyword_profile("reinforcement learn*")
    ranked = {r.paper.arxiv_id: r for r in ranker.rank(settings, [early, apart], seeds={})}
    for paper_id, item in ranked.items():
        (reason,) = item.reasons
        form = reason.text.split("(")[1].rstrip(")")
        plain = ranker.rank(_keyword_profile(f"reinforcement {form}"),
                            [early if paper_id == early.arxiv_id else apart], seeds={})[0]
        assert reason.weight == plain.score > 0  # the word named is the one that scored
        assert reason.text.split(" ")[0] == plain.reasons[0].text.split(" ")[0]
    assert ranked["2611.00066"].reasons[0].text == (
        "matched “reinforcement learn*” (learners)")


def test_two_wildcards_share_the_forms_so_each_keeps_its_common_words() -> None:
    # Sixty rare words begin with "net": taken in order, the forms of "neur* net*" would
    # all be "neural net…" and never "neuron network".
    rare = [make(f"2611.1{n:04d}", f"Netword{n:02d} tools", f"Netword{n:02d} for neural nets.")
            for n in range(60)]
    common = [make(f"2611.2{n:04d}", "Neural networks", "Neural networks again.")
              for n in range(5)]
    neuron = make("2611.00068", "Neuron networks", "We study neuron networks.")
    ranker = Ranker.fit([*rare, *common, neuron])
    (item,) = ranker.rank(_keyword_profile("neur* net*"), [neuron], seeds={})
    assert item.reasons[0].text == "matched “neur* net*” (neuron, networks)"


def test_wildcards_meet_plurals_accents_and_stop_words() -> None:
    strategies = make("2611.00069", "Strategies for games", "Winning strategies.")
    naive = make("2611.00070", "Naïve Bayes revisited", "A naïve classifier.")
    theory = make("2611.00071", "A theory of games", "The theory.")
    papers = [*WILD, strategies, naive, theory]
    ranker = Ranker.fit(papers)
    ranked = {r.paper.arxiv_id: r for r in ranker.rank(
        _keyword_profile("strategi*", "NAÏV*", "the*"), papers, seeds={})}
    # "strategies" is kept as "strategy", which "strategi" does not begin.
    assert [r.text for r in ranked["2611.00069"].reasons] == ["matched “strategi*” (strategies)"]
    assert [r.text for r in ranked["2611.00070"].reasons] == ["matched “NAÏV*” (naive)"]
    # "the" is a stop word, never a form: "the*" scores through "theory".
    assert [r.text for r in ranked["2611.00071"].reasons] == ["matched “the*” (theory)"]
    excluded = ranker.rank(_keyword_profile("games", exclude=("strategi*",)),
                           [strategies], seeds={})
    assert excluded[0].score == 0
