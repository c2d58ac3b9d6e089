# language: da
Egenskab: Borgernes anmodninger besvares inden for fristen
  En borger kan anmode om indsigt (art. 15), berigtigelse (art. 16), sletning (art. 17),
  tilbagekalde sit samtykke (art. 7, stk. 3) eller gøre indsigelse (art. 21).
  Databeskyttelsesforordningens art. 12, stk. 3: anmodningen besvares uden unødig
  forsinkelse og senest en måned efter modtagelsen. Fristen kan forlænges med yderligere
  to måneder, men borgeren skal have besked om forlængelsen og begrundelsen inden for den
  første måned. En måned regnes efter EU's regel om frister (forordning 1182/71, art. 3):
  samme dato i den følgende måned, eller månedens sidste dag, hvis datoen ikke findes
  (policies/requests.yaml).

  Baggrund:
    Givet en borger i projektet

  Regel: Fristen er en måned fra modtagelsen

    Abstrakt Scenario: Fristen er samme dato måneden efter, eller månedens sidste dag
      Når borgeren anmoder om "indsigt" den <modtaget>
      Så er fristen <frist>

      Eksempler:
        | modtaget   | frist      |
        | 15-03-2027 | 15-04-2027 |
        | 31-01-2027 | 28-02-2027 |
        | 31-01-2028 | 29-02-2028 |
        | 31-03-2027 | 30-04-2027 |
        | 31-12-2027 | 31-01-2028 |

    Scenarie: En anmodning besvaret efter en måned uden forlængelse er overskredet
      Givet borgeren anmodede om "indsigt" den 10-03-2027
      Når anmodningen besvares den 11-04-2027
      Så er anmodningen overskredet

    Scenarie: En anmodning besvaret på fristens dag er rettidig
      Givet borgeren anmodede om "berigtigelse" den 10-03-2027
      Når anmodningen besvares den 10-04-2027
      Så er anmodningen ikke overskredet

  Regel: Fristen kan forlænges med højst to måneder, men kun inden for den første måned

    Scenarie: En forlængelse inden for den første måned flytter fristen
      Givet borgeren anmodede om "sletning" den 10-03-2027
      Når fristen den 05-04-2027 forlænges til 10-06-2027 med begrundelsen "Mange samtidige anmodninger"
      Så er fristen 10-06-2027
      Når anmodningen besvares den 01-06-2027
      Så er anmodningen ikke overskredet

    Scenarie: En forlængelse efter fristen afvises
      Givet borgeren anmodede om "indsigt" den 10-03-2027
      Når fristen den 11-04-2027 forlænges til 10-06-2027 med begrundelsen "Glemt"
      Så afvises forlængelsen med "kan ikke registreres bagefter"
      Og er fristen 10-04-2027

    Scenarie: En forlængelse ud over to måneder afvises, også ved 31. januar
      Givet borgeren anmodede om "tilbagekaldelse" den 31-01-2027
      Når fristen den 28-02-2027 forlænges til 29-04-2027 med begrundelsen "Kompleks sag"
      Så afvises forlængelsen med "til 28-04-2027"
      Når fristen den 28-02-2027 forlænges til 28-04-2027 med begrundelsen "Kompleks sag"
      Så er fristen 28-04-2027

  Regel: En overskredet frist når databeskyttelsesrådgiveren

    Scenarie: Overskridelsen logges én gang og giver én alarm
      Givet borgeren anmodede om "indsigelse" den 10-03-2027
      Når tjenestens baggrundsjob kører den 10-04-2027
      Så er der ingen overskridelse i loggen
      Når tjenestens baggrundsjob kører den 11-04-2027
      Og tjenestens baggrundsjob kører den 12-04-2027
      Så er overskridelsen logget én gang
      Og databeskyttelsesrådgiveren har én alarm om anmodningen
